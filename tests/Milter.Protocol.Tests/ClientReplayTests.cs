using System.Buffers;
using System.IO.Pipelines;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>
/// The MTA half against the captures: each captured MTA frame is decoded and re-sent through
/// <see cref="MilterClient"/>, which must write the very same bytes and decode the captured replies.
/// </summary>
public sealed class ClientReplayTests
{
    public static TheoryData<string> AllCaptures => new(Capture.Names);

    [Theory]
    [MemberData(nameof(AllCaptures))]
    public async Task Client_sending_the_decoded_commands_writes_the_captured_bytes_and_reads_the_captured_replies(string name)
    {
        var capture = Capture.Load(name);
        var toFilter = new Pipe(PipeSession.Inline);
        var toMta = new Pipe(PipeSession.Inline);
        // The filter's side is the capture itself: all of its replies are waiting to be read.
        await toMta.Writer.WriteAsync(capture.FilterStream);
        await toMta.Writer.CompleteAsync();
        var client = new MilterClient(new DuplexPipe(toMta.Reader, toFilter.Writer));

        var reencoded = new ArrayBufferWriter<byte>();
        foreach (var frame in capture.ToFilter)
        {
            var response = await Send(client, frame);
            if (response is { Awaited: true })
            {
                foreach (var m in response.Modifications)
                    ReplyCodec.WriteModification(reencoded, m);
                WriteResponse(reencoded, response);
            }
        }
        await toFilter.Writer.CompleteAsync();

        var written = await toFilter.Reader.ReadAsync();
        Assert.True(written.IsCompleted);
        Assert.Equal(Bytes.ToHex(capture.MtaStream), Bytes.ToHex(written.Buffer.ToArray()));
        // Every reply was decoded into values that encode back to the captured frames (the OPTNEG
        // answer is checked through client.Negotiated).
        var replies = capture.ToMta.Skip(1).SelectMany(f => f.Bytes).ToArray();
        Assert.Equal(Bytes.ToHex(replies), Bytes.ToHex(reencoded.WrittenSpan));
        Assert.Equal(Bytes.ToHex(capture.ToMta.First().Payload), Bytes.ToHex(OptnegPayload(client.Negotiated!)));
    }

    [Fact]
    public async Task Client_decodes_the_per_recipient_replies_of_mixed_rcpts()
    {
        var capture = Capture.Load("mixed-rcpts");
        var toMta = new Pipe(PipeSession.Inline);
        await toMta.Writer.WriteAsync(capture.FilterStream);
        var client = new MilterClient(new DuplexPipe(toMta.Reader, new Pipe(PipeSession.Inline).Writer));

        var rcptReplies = new List<string>();
        foreach (var frame in capture.ToFilter)
        {
            var response = await Send(client, frame);
            if (frame.Code == (byte)'R')
                rcptReplies.Add(response!.ToString());
            if (frame.Code == (byte)'E')
            {
                Assert.Equal(VerdictKind.Accept, response!.Kind);
                Assert.Equal([new AddHeaderModification("X-Standin", "checked")], response.Modifications);
            }
        }
        Assert.Equal(["Continue", "550 5.1.1 User unknown", "550 5.7.1 Relaying denied"], rcptReplies);
    }

    /// <summary>Sends one decoded captured frame through the client; null for frames without an answer.</summary>
    private static async Task<MilterResponse?> Send(MilterClient client, CapturedFrame frame)
    {
        var payload = frame.Payload;
        switch ((CommandCode)frame.Code)
        {
            case CommandCode.OptionNegotiation:
                await client.NegotiateAsync(CommandCodec.ParseOptionNegotiation(payload));
                return null;
            case CommandCode.Macro:
                var pairs = new List<KeyValuePair<string, string>>();
                var stage = CommandCodec.ParseMacros(payload, 1000, pairs);
                await client.SendMacrosAsync(stage, pairs);
                return null;
            case CommandCode.Connect:
                var c = CommandCodec.ParseConnect(payload);
                return await client.ConnectAsync(c.HostName, c.Family, c.Port, c.Address);
            case CommandCode.Helo:
                return await client.HeloAsync(CommandCodec.ParseHelo(payload).Name);
            case CommandCode.Mail:
                var mail = CommandCodec.ParseMail(payload);
                return await client.MailAsync(mail.Sender, mail.Arguments);
            case CommandCode.Rcpt:
                var rcpt = CommandCodec.ParseRcpt(payload);
                return await client.RcptAsync(rcpt.Recipient, rcpt.Arguments);
            case CommandCode.Data:
                return await client.DataAsync();
            case CommandCode.Header:
                var h = CommandCodec.ParseHeader(payload);
                return await client.HeaderAsync(h.Name, h.Value);
            case CommandCode.EndOfHeaders:
                return await client.EndOfHeadersAsync();
            case CommandCode.Body:
                return await client.BodyAsync(payload);
            case CommandCode.EndOfMessage:
                Assert.Empty(payload);
                return await client.EndOfMessageAsync();
            case CommandCode.Abort:
                await client.AbortAsync();
                return null;
            case CommandCode.Quit:
                await client.QuitAsync();
                return null;
            default:
                throw new InvalidOperationException($"line {frame.Line}: no client call for command 0x{frame.Code:x2}");
        }
    }

    private static void WriteResponse(IBufferWriter<byte> output, MilterResponse response)
    {
        if (response.Reply is { } reply)
            FrameWriter.WriteStrings(output, (byte)ReplyCode.ReplyCode, reply.ToWireText());
        else
            FrameWriter.Write(output, (byte)response.Code);
    }

    private static byte[] OptnegPayload(OptionNegotiation o)
    {
        var w = new ArrayBufferWriter<byte>();
        CommandCodec.WriteOptionNegotiation(w, (byte)ReplyCode.OptionNegotiation, o);
        return w.WrittenSpan[5..].ToArray();
    }
}
