using System.Buffers;
using BenchmarkDotNet.Attributes;
using Milter.Protocol.Commands;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Micro;

/// <summary>
/// Decode and encode of one full message conversation (OPTNEG to EOM, 27 MTA frames and the
/// filter's replies). Divide by the frame count for per-frame figures.
/// </summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private byte[] _conversation = [];
    private readonly ArrayBufferWriter<byte> _out = new(4096);
    private readonly List<KeyValuePair<string, string>> _macros = [];
    private readonly MacroTable _table = new();
    private static readonly SmtpReply Greylisted = new(451, "4.7.1", "Greylisted, please retry in 120 seconds");

    /// <summary>MTA frames in the conversation.</summary>
    public int Frames { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        _conversation = Conversation.Build(out var frames);
        Frames = frames;
        Console.WriteLine($"// conversation: {frames} frames, {_conversation.Length} bytes");
    }

    /// <summary>Framing only: the length check and the split into command and payload.</summary>
    [Benchmark]
    public int FrameConversation()
    {
        var buffer = new ReadOnlySequence<byte>(_conversation);
        var n = 0;
        while (FrameReader.TryRead(ref buffer, 1 << 20, out _, out _))
            n++;
        return n;
    }

    /// <summary>Framing and full decoding of every command into typed values, macros into the table.</summary>
    [Benchmark]
    public int DecodeConversation()
    {
        var buffer = new ReadOnlySequence<byte>(_conversation);
        var n = 0;
        while (FrameReader.TryRead(ref buffer, 1 << 20, out var code, out var payload))
        {
            var span = payload.FirstSpan;
            switch ((CommandCode)code)
            {
                case CommandCode.OptionNegotiation: n += (int)CommandCodec.ParseOptionNegotiation(span).Version; break;
                case CommandCode.Macro:
                    _macros.Clear();
                    var stage = CommandCodec.ParseMacros(span, 512, _macros);
                    _table.SetStage(stage, _macros);
                    break;
                case CommandCode.Connect: n += CommandCodec.ParseConnect(span).Port; break;
                case CommandCode.Helo: n += CommandCodec.ParseHelo(span).Name.Length; break;
                case CommandCode.Mail: n += CommandCodec.ParseMail(span).Arguments.Count; break;
                case CommandCode.Rcpt: n += CommandCodec.ParseRcpt(span).Recipient.Length; break;
                case CommandCode.Header: n += CommandCodec.ParseHeader(span).Value.Length; break;
                default: n += span.Length; break;
            }
        }
        return n;
    }

    /// <summary>The filter's replies for the conversation: OPTNEG, 22 CONTINUE, one REPLYCODE, a header and ACCEPT.</summary>
    [Benchmark]
    public int EncodeReplies()
    {
        _out.ResetWrittenCount();
        CommandCodec.WriteOptionNegotiation(_out, (byte)ReplyCode.OptionNegotiation, new OptionNegotiation(6, Milter.Protocol.Negotiation.ActionFlags.AddHeaders, Milter.Protocol.Negotiation.ProtocolFlags.NoBody));
        for (var i = 0; i < 22; i++)
            ReplyCodec.WriteVerdict(_out, Verdict.Continue, skipAllowed: true);
        ReplyCodec.WriteVerdict(_out, Verdict.Tempfail(Greylisted), skipAllowed: true);
        FrameWriter.WriteStrings(_out, (byte)ReplyCode.AddHeader, "X-Greylist", "passed");
        ReplyCodec.WriteVerdict(_out, Verdict.Accept, skipAllowed: true);
        return _out.WrittenCount;
    }
}
