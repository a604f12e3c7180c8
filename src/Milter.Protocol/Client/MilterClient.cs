using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Client;

/// <summary>
/// The MTA's half of the milter protocol: opens a connection to a filter, negotiates, sends the
/// stages of SMTP transactions and reads the answers. It honours what the filter negotiated:
/// stages it skipped are not sent, replies it declined are not awaited, and only the macros it
/// asked for are sent. Used by tests, <c>milterhost simulate</c> and the load generator.
/// Not thread-safe: one conversation at a time, like an MTA's connection.
/// </summary>
public sealed class MilterClient : IAsyncDisposable
{
    /// <summary>What sendmail 8.17 offers: version 6, every action, every protocol flag up to HDR_LEADSPC.</summary>
    public static OptionNegotiation Sendmail817Offer { get; } = new(6, ActionFlags.All, (ProtocolFlags)0x1fffff);

    private readonly IDuplexPipe _transport;
    private readonly IAsyncDisposable? _owned;
    private readonly int _maxFrameSize;
    private OptionNegotiation? _negotiated;
    // The filter's SETSYMLIST per macro stage letter, parsed once at negotiation; null: send every macro.
    private Dictionary<char, HashSet<string>>? _wantedMacros;

    public MilterClient(IDuplexPipe transport, int maxFrameSize = 1024 * 1024 + 64, IAsyncDisposable? owned = null)
    {
        _transport = transport;
        _maxFrameSize = maxFrameSize;
        _owned = owned;
    }

    /// <summary>Connects to a filter at a Unix socket path or TCP endpoint.</summary>
    public static async Task<MilterClient> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken = default)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            if (socket.ProtocolType == ProtocolType.Tcp) socket.NoDelay = true;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return Over(new NetworkStream(socket, ownsSocket: true));
    }

    /// <summary>A client over a connected stream, which it disposes with itself.</summary>
    public static MilterClient Over(Stream stream) =>
        new(new DuplexPipe(PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true)), PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true))),
            owned: stream);

    /// <summary>The filter's OPTNEG answer, once negotiated.</summary>
    public OptionNegotiation? Negotiated => _negotiated;

    /// <summary>Sends OPTNEG (by default what sendmail 8.17 offers) and reads the filter's answer.</summary>
    public async Task<OptionNegotiation> NegotiateAsync(OptionNegotiation? offer = null, CancellationToken cancellationToken = default)
    {
        CommandCodec.WriteOptionNegotiation(_transport.Output, (byte)CommandCode.OptionNegotiation, offer ?? Sendmail817Offer);
        await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        var (code, payload) = await ReadFrameAsync(cancellationToken).ConfigureAwait(false);
        if (code != (byte)ReplyCode.OptionNegotiation)
            throw new MilterProtocolException(ProtocolViolation.UnexpectedReply, $"expected OPTNEG, got 0x{code:x2}");
        _negotiated = CommandCodec.ParseOptionNegotiation(payload);
        _wantedMacros = ParseMacroLists(_negotiated);
        return _negotiated;
    }

    /// <summary>Sends macros for a stage letter (C H M R T L N E), keeping only those the filter asked for.</summary>
    public async Task SendMacrosAsync(char stage, IEnumerable<KeyValuePair<string, string>> macros, CancellationToken cancellationToken = default)
    {
        var list = _wantedMacros is not null && _wantedMacros.TryGetValue(stage, out var wanted)
            ? macros.Where(kv => wanted.Contains(kv.Key.Trim('{', '}')))
            : macros;
        CommandCodec.WriteMacros(_transport.Output, stage, list);
        await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task SendMacrosAsync(char stage, params (string Name, string Value)[] macros) =>
        SendMacrosAsync(stage, macros.Select(m => new KeyValuePair<string, string>(m.Name, m.Value)));

    public Task<MilterResponse> ConnectAsync(string hostName, ConnectFamily family, ushort port, string? address, CancellationToken cancellationToken = default) =>
        CommandAsync(ProtocolFlags.NoConnect, ProtocolFlags.NoReplyConnect,
            o => CommandCodec.WriteConnect(o, new ConnectCommand(hostName, family, port, address)), cancellationToken);

    public Task<MilterResponse> HeloAsync(string name, CancellationToken cancellationToken = default) =>
        CommandAsync(ProtocolFlags.NoHelo, ProtocolFlags.NoReplyHelo, o => FrameWriter.WriteStrings(o, (byte)CommandCode.Helo, name), cancellationToken);

    public Task<MilterResponse> MailAsync(string sender, IReadOnlyList<string>? arguments = null, CancellationToken cancellationToken = default) =>
        CommandAsync(ProtocolFlags.NoMail, ProtocolFlags.NoReplyMail,
            o => FrameWriter.WriteStrings(o, (byte)CommandCode.Mail, [Bracket(sender), .. arguments ?? []]), cancellationToken);

    public Task<MilterResponse> RcptAsync(string recipient, IReadOnlyList<string>? arguments = null, CancellationToken cancellationToken = default) =>
        CommandAsync(ProtocolFlags.NoRcpt, ProtocolFlags.NoReplyRcpt,
            o => FrameWriter.WriteStrings(o, (byte)CommandCode.Rcpt, [Bracket(recipient), .. arguments ?? []]), cancellationToken);

    public Task<MilterResponse> DataAsync(CancellationToken cancellationToken = default) =>
        CommandAsync(ProtocolFlags.NoData, ProtocolFlags.NoReplyData, o => FrameWriter.Write(o, (byte)CommandCode.Data), cancellationToken);

    public Task<MilterResponse> HeaderAsync(string name, string value, CancellationToken cancellationToken = default) =>
        CommandAsync(ProtocolFlags.NoHeaders, ProtocolFlags.NoReplyHeader, o => FrameWriter.WriteStrings(o, (byte)CommandCode.Header, name, value), cancellationToken);

    public Task<MilterResponse> EndOfHeadersAsync(CancellationToken cancellationToken = default) =>
        CommandAsync(ProtocolFlags.NoEoh, ProtocolFlags.NoReplyEoh, o => FrameWriter.Write(o, (byte)CommandCode.EndOfHeaders), cancellationToken);

    /// <summary>Sends one body chunk (at most 65535 bytes, as sendmail does).</summary>
    public Task<MilterResponse> BodyAsync(ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken = default) =>
        CommandAsync(ProtocolFlags.NoBody, ProtocolFlags.NoReplyBody, o => FrameWriter.Write(o, (byte)CommandCode.Body, chunk.Span), cancellationToken);

    /// <summary>Sends a whole body in chunks of at most 65535 bytes; stops early when the filter answers SKIP or a final verdict.</summary>
    public async Task<MilterResponse> BodyChunksAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        var last = MilterResponse.NotSent;
        for (var at = 0; at < body.Length; at += 65535)
        {
            last = await BodyAsync(body.Slice(at, Math.Min(65535, body.Length - at)), cancellationToken).ConfigureAwait(false);
            if (!last.Sent || last.Kind != VerdictKind.Continue)
                break;
        }
        return last;
    }

    /// <summary>End of message: reads every modification and the final verdict.</summary>
    public async Task<MilterResponse> EndOfMessageAsync(CancellationToken cancellationToken = default)
    {
        FrameWriter.Write(_transport.Output, (byte)CommandCode.EndOfMessage);
        await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return await ReadResponseAsync(acceptModifications: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends UNKNOWN with an unrecognised SMTP command line.</summary>
    public Task<MilterResponse> UnknownAsync(string line, CancellationToken cancellationToken = default) =>
        CommandAsync(ProtocolFlags.NoUnknown, ProtocolFlags.NoReplyUnknown, o => FrameWriter.WriteStrings(o, (byte)CommandCode.Unknown, line), cancellationToken);

    /// <summary>ABORT: the message is abandoned (no reply).</summary>
    public Task AbortAsync(CancellationToken cancellationToken = default) => SendBareAsync(CommandCode.Abort, cancellationToken);

    /// <summary>QUIT: the SMTP session ended; the filter closes.</summary>
    public Task QuitAsync(CancellationToken cancellationToken = default) => SendBareAsync(CommandCode.Quit, cancellationToken);

    /// <summary>QUIT_NC: the SMTP session ended and a new one follows on this connection.</summary>
    public Task QuitNewConnectionAsync(CancellationToken cancellationToken = default) => SendBareAsync(CommandCode.QuitNewConnection, cancellationToken);

    /// <summary>Writes raw bytes to the filter (for tests of hostile input).</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        await _transport.Output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one frame from the filter; null when it closed the connection.</summary>
    public async Task<(byte Code, byte[] Payload)?> TryReadFrameAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await ReadFrameAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // Sends what is still buffered if it can: after a failed write (the filter closed the
            // connection) the frame is still there, and its loss is no error of the disposal.
            await _transport.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
        await _transport.Input.CompleteAsync().ConfigureAwait(false);
        if (_owned is not null)
            await _owned.DisposeAsync().ConfigureAwait(false);
    }

    private async Task SendBareAsync(CommandCode code, CancellationToken ct)
    {
        FrameWriter.Write(_transport.Output, (byte)code);
        await _transport.Output.FlushAsync(ct).ConfigureAwait(false);
    }

    private async Task<MilterResponse> CommandAsync(ProtocolFlags skipFlag, ProtocolFlags noReplyFlag, Action<IBufferWriter<byte>> write, CancellationToken ct)
    {
        var agreed = _negotiated?.Protocol ?? ProtocolFlags.None;
        if ((agreed & skipFlag) != 0)
            return MilterResponse.NotSent;
        write(_transport.Output);
        await _transport.Output.FlushAsync(ct).ConfigureAwait(false);
        if ((agreed & noReplyFlag) != 0)
            return MilterResponse.NotAwaited;
        return await ReadResponseAsync(acceptModifications: false, ct).ConfigureAwait(false);
    }

    private async Task<MilterResponse> ReadResponseAsync(bool acceptModifications, CancellationToken ct)
    {
        var progress = 0;
        List<Modification>? modifications = null;
        while (true)
        {
            var (code, payload) = await ReadFrameAsync(ct).ConfigureAwait(false);
            var reply = (ReplyCode)code;
            switch (reply)
            {
                case ReplyCode.Progress:
                    progress++;
                    continue;
                case ReplyCode.Continue or ReplyCode.Accept or ReplyCode.Reject or ReplyCode.Tempfail or ReplyCode.Discard
                    or ReplyCode.Skip or ReplyCode.Shutdown or ReplyCode.ConnectionFailure:
                    return new MilterResponse(reply, null, (IReadOnlyList<Modification>?)modifications ?? [], progress);
                case ReplyCode.ReplyCode:
                    var text = new PayloadReader(payload, "REPLYCODE").ReadCString("text");
                    return new MilterResponse(reply, ReplyCodec.ParseReplyText(text), (IReadOnlyList<Modification>?)modifications ?? [], progress);
                default:
                    var m = ReplyCodec.ParseModification(reply, payload);
                    if (m is null || !acceptModifications)
                        throw new MilterProtocolException(ProtocolViolation.UnexpectedReply, $"reply 0x{code:x2} ('{(char)code}') is not valid here");
                    (modifications ??= []).Add(m);
                    continue;
            }
        }
    }

    private async Task<(byte Code, byte[] Payload)> ReadFrameAsync(CancellationToken ct)
    {
        var reader = _transport.Input;
        while (true)
        {
            var result = await reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (FrameReader.TryRead(ref buffer, _maxFrameSize, out var code, out var payload))
            {
                var bytes = payload.ToArray();
                reader.AdvanceTo(buffer.Start);
                return (code, bytes);
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
                throw new EndOfStreamException("the filter closed the connection");
        }
    }

    private static Dictionary<char, HashSet<string>>? ParseMacroLists(OptionNegotiation negotiated)
    {
        if (negotiated.MacroLists is not { } lists)
            return null;
        var wanted = new Dictionary<char, HashSet<string>>();
        foreach (var (index, names) in lists)
        {
            char? stage = index switch
            {
                MacroStage.Connect => 'C',
                MacroStage.Helo => 'H',
                MacroStage.EnvFrom => 'M',
                MacroStage.EnvRcpt => 'R',
                MacroStage.Data => 'T',
                MacroStage.EndOfMessage => 'E',
                MacroStage.EndOfHeaders => 'N',
                _ => null,
            };
            if (stage is not null)
                wanted[stage.Value] = names.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(n => n.Trim('{', '}')).ToHashSet(StringComparer.Ordinal);
        }
        return wanted;
    }

    private static string Bracket(string address) =>
        address.StartsWith('<') ? address : "<" + address + ">";
}
