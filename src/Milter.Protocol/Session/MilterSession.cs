using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Commands;
using Milter.Protocol.Logging;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

/// <summary>
/// The filter's side of one milter connection: reads frames, checks each command against the
/// <see cref="SessionState"/> table, has the <see cref="StageRunner"/> call the handler for its
/// stage, and writes the replies. Bad input from the MTA closes this connection with one log line;
/// nothing a peer sends escapes <see cref="RunAsync"/>.
/// </summary>
public sealed class MilterSession
{
    private readonly IDuplexPipe _transport;
    private readonly IMilterHandler _handler;
    // Read once: negotiation and every HEADER packet consult them.
    private readonly HandlerRequirements _needs;
    private readonly SessionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MilterConnectionContext _context;
    private readonly List<KeyValuePair<string, string>> _macroScratch = [];
    private readonly NegotiationCache? _negotiations;
    private readonly Socket? _socket;
    private readonly Action? _peerLeftCallback;
    private readonly SessionState _state = new();
    // Made when the session runs: its stage tokens are linked to the session's.
    private StageRunner? _stages;

    public MilterSession(IDuplexPipe transport, IMilterHandler handler, SessionOptions options, TimeProvider time, ILogger logger, long connectionId)
        : this(transport, handler, options, time, logger, connectionId, negotiations: null)
    {
    }

    /// <param name="negotiations">Shared by the sessions of one server, so the OPTNEG answer is computed once, not per connection.</param>
    /// <param name="socket">The connection's socket under <paramref name="transport"/>: looked at (never read) while the handler works, so that an MTA that leaves meanwhile is noticed at once.</param>
    /// <param name="peerLeft">Called once the MTA left while the handler worked, before the handler has stopped (the server frees the connection's place under its cap).</param>
    internal MilterSession(IDuplexPipe transport, IMilterHandler handler, SessionOptions options, TimeProvider time, ILogger logger, long connectionId,
        NegotiationCache? negotiations, Socket? socket = null, Action? peerLeft = null)
    {
        _negotiations = negotiations;
        _socket = socket;
        _peerLeftCallback = peerLeft;
        _transport = transport;
        _handler = handler;
        _needs = handler.Requirements;
        _options = options;
        _time = time;
        _logger = logger;
        _context = new MilterConnectionContext(connectionId, new MacroTable());
    }

    /// <summary>The context shared with the handler (macros, negotiated options).</summary>
    public MilterConnectionContext Context => _context;

    /// <summary>
    /// Runs the connection until QUIT, the peer leaving, bad input, the idle timeout, or
    /// <paramref name="cancellationToken"/> (a hard stop). Never throws for anything the peer does.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var reader = _transport.Input;
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        await using var stopRegistration = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), idle);
        var stages = _stages = new StageRunner(_handler, _context, _options, _time, _logger, _transport.Output, _socket, _peerLeftCallback, cancellationToken);
        var budget = new SocketThreadBudget(_time);
        Exception? peerGone = null;
        try
        {
            while (true)
            {
                idle.CancelAfter(_options.Limits.IdleTimeout);
                var read = reader.ReadAsync(idle.Token);
                var waits = !read.IsCompleted;
                var result = await read.ConfigureAwait(false);
                if (waits)
                    budget.Restart();
                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                var buffer = result.Buffer;
                var open = true;
                try
                {
                    while (open && FrameReader.TryRead(ref buffer, _options.Limits.MaxFrameSize, out var code, out var payload))
                    {
                        // Checked per frame: one read can bring hundreds of them.
                        if (budget.Spent)
                        {
                            await Task.Yield();
                            budget.Restart();
                        }
                        open = await DispatchAsync(code, payload, cancellationToken).ConfigureAwait(false) && !stages.HandlerStuck && !stages.PeerLeft;
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }
                if (!open)
                {
                    if (stages.HandlerStuck)
                    {
                        // The handler is still inside its stuck call: calling it again (OnCloseAsync)
                        // would break the one-call-at-a-time promise, so it is not told.
                        _state.CloseSmtpSession();
                    }
                    return;
                }
                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty)
                        throw new MilterProtocolException(ProtocolViolation.TruncatedFrame, $"connection closed with {buffer.Length} bytes of an incomplete frame");
                    ProtocolLog.PeerGone(_logger, _context.ConnectionId, "end of stream");
                    return;
                }
            }
        }
        catch (MilterProtocolException e)
        {
            ProtocolLog.BadInput(_logger, _context.ConnectionId, e.Violation, e.Detail);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // A hard stop: nothing to say.
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested)
        {
            ProtocolLog.IdleTimeout(_logger, _context.ConnectionId, _options.Limits.IdleTimeout.TotalSeconds);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            peerGone = e;
            ProtocolLog.PeerGone(_logger, _context.ConnectionId, e.Message);
        }
        catch (Exception e)
        {
            ProtocolLog.SessionFailed(_logger, e, _context.ConnectionId);
        }
        finally
        {
            await CloseSmtpSessionAsync().ConfigureAwait(false);
            stages.Dispose();
            await reader.CompleteAsync().ConfigureAwait(false);
            try
            {
                // With the peer gone, what is left in the writer (the answer that failed) is dropped, not written again.
                await _transport.Output.CompleteAsync(peerGone).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // The last answer (after QUIT, say) found the MTA gone.
                if (peerGone is null)
                    ProtocolLog.PeerGone(_logger, _context.ConnectionId, e.Message);
            }
        }
    }

    /// <summary>Handles one frame; returns false when the connection should close (QUIT).</summary>
    private async ValueTask<bool> DispatchAsync(byte code, ReadOnlySequence<byte> payload, CancellationToken ct)
    {
        var command = (CommandCode)code;
        _state.CheckAllowedBeforeNegotiation(command, code);
        var stages = _stages!;

        switch (command)
        {
            case CommandCode.OptionNegotiation:
                await NegotiateAsync(payload, ct).ConfigureAwait(false);
                return true;

            case CommandCode.Macro:
                _macroScratch.Clear();
                var stage = WithSpan(payload, this, static (s, self) => CommandCodec.ParseMacros(s, self._options.Limits.MaxMacrosPerPacket, self._macroScratch));
                _context.Macros.SetStage(stage, _macroScratch);
                _macroScratch.Clear();
                return true;

            case CommandCode.Connect:
            {
                _state.CheckConnect();
                var connect = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseConnect(s));
                _state.Connected(_context);
                var v = await stages.CallAsync(MilterStages.Connect, static (h, c, x, t) => h.OnConnectAsync((ConnectCommand)c!, x, t), connect, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyConnect, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Helo:
            {
                _state.EnsureSmtpSession("HELO", _context);
                if (_state.Current == SessionState.Phase.Message)
                {
                    // EHLO resets the SMTP transaction; sendmail does not ABORT a filter that already
                    // answered the message finally, so treat it as the abort it implies.
                    await AbortMessageAsync(ct).ConfigureAwait(false);
                }
                var helo = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseHelo(s));
                var v = await stages.CallAsync(MilterStages.Helo, static (h, c, x, t) => h.OnHeloAsync((HeloCommand)c!, x, t), helo, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyHelo, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Mail:
            {
                _state.EnsureSmtpSession("MAIL", _context);
                if (_state.Current == SessionState.Phase.Message)
                {
                    // A new transaction without ABORT after an unfinished one (sendmail sends no ABORT to a
                    // filter that accepted or refused the message early): treat it as the abort it implies.
                    await AbortMessageAsync(ct, keepMailMacros: true).ConfigureAwait(false);
                }
                var mail = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseMail(s));
                _state.BeginMessage();
                var v = await stages.CallAsync(MilterStages.Mail, static (h, c, x, t) => h.OnMailAsync((MailCommand)c!, x, t), mail, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyMail, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Rcpt:
            {
                _state.EnterMessageStage(command, "RCPT", _context);
                var rcpt = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseRcpt(s));
                var v = await stages.CallAsync(MilterStages.Rcpt, static (h, c, x, t) => h.OnRcptAsync((RcptCommand)c!, x, t), rcpt, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyRcpt, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Data:
            {
                _state.EnterMessageStage(command, "DATA", _context);
                var v = await stages.CallAsync(MilterStages.Data, static (h, _, x, t) => h.OnDataAsync(x, t), null, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyData, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Header:
            {
                _state.EnterMessageStage(command, "HEADER", _context);
                _state.AddHeaderBytes(payload.Length, _options.Limits.MaxHeaderBytes);
                if (!WithSpan(payload, _needs, static (s, needs) => needs.WantsHeader(s)))
                {
                    // A header no one reads: a malformed one is not noticed, which costs nothing.
                    await ReplyAsync(ProtocolFlags.NoReplyHeader, Verdict.Continue, ct).ConfigureAwait(false);
                    return true;
                }
                var header = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseHeader(s));
                var v = await stages.CallAsync(MilterStages.Header, static (h, c, x, t) => h.OnHeaderAsync((HeaderCommand)c!, x, t), header, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyHeader, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.EndOfHeaders:
            {
                _state.EnterMessageStage(command, "EOH", _context);
                var v = await stages.CallAsync(MilterStages.EndOfHeaders, static (h, _, x, t) => h.OnEndOfHeadersAsync(x, t), null, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyEoh, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Body:
            {
                _state.EnterMessageStage(command, "BODY", _context);
                var v = await stages.CallBodyAsync(payload, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyBody, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.EndOfMessage:
            {
                _state.EnterMessageStage(command, "EOM", _context);
                if (!payload.IsEmpty)
                {
                    // A final body chunk may ride along with BODYEOB.
                    var chunk = await stages.CallBodyAsync(payload, ct).ConfigureAwait(false);
                    _ = chunk; // its verdict is superseded by the end-of-message answer
                }
                await EndOfMessageAsync(ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Abort:
                if (_state.Current == SessionState.Phase.Message)
                    await AbortMessageAsync(ct).ConfigureAwait(false);
                else if (_state.Current == SessionState.Phase.Connected)
                    _context.Macros.ClearMessage(); // ABORT twice in a row (Postfix) or before MAIL: nothing to abandon
                return true;

            case CommandCode.Unknown:
            {
                var unknown = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseUnknown(s));
                var v = await stages.CallAsync(MilterStages.Unknown, static (h, c, x, t) => h.OnUnknownAsync((UnknownCommand)c!, x, t), unknown, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyUnknown, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Quit:
                return false;

            case CommandCode.QuitNewConnection:
                await CloseSmtpSessionAsync().ConfigureAwait(false);
                _context.Macros.ClearAll();
                _state.Restart();
                return true;

            default:
                throw new MilterProtocolException(ProtocolViolation.UnknownCommand, $"command byte 0x{code:x2}");
        }
    }

    private async ValueTask NegotiateAsync(ReadOnlySequence<byte> payload, CancellationToken ct)
    {
        _state.CheckNegotiation();
        var offer = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseOptionNegotiation(s));
        var needs = _needs;
        var fresh = true;
        ReadOnlyMemory<byte> reply = default;
        var answer = _negotiations is null ? Negotiator.Negotiate(offer, needs) : _negotiations.Negotiate(offer, needs, out fresh, out reply);
        // libmilter refuses such an MTA outright (its F= flag then tempfails or skips the filter for all
        // mail); here the chain goes on without those changes, said once per offer and configuration.
        if (fresh && (needs.Actions & ~answer.Actions & ~ActionFlags.SetSymbolList) is var missing and not ActionFlags.None)
            ProtocolLog.ActionsNotOffered(_logger, _context.ConnectionId, missing, (uint)offer.Actions);
        _context.Version = answer.Version;
        _context.Actions = answer.Actions;
        _context.Protocol = answer.Protocol;
        _state.Negotiated(answer.Protocol);
        ProtocolLog.Negotiated(_logger, _context.ConnectionId, answer.Version, (uint)answer.Actions, (uint)answer.Protocol, (uint)offer.Protocol);
        // Encoded once per offer and configuration, with the answer (NegotiationCache).
        if (reply.IsEmpty)
            CommandCodec.WriteOptionNegotiation(_transport.Output, (byte)ReplyCode.OptionNegotiation, answer);
        else
            _transport.Output.Write(reply.Span);
        await _transport.Output.FlushAsync(ct).ConfigureAwait(false);
    }

    private async ValueTask ReplyAsync(ProtocolFlags noReplyFlag, Verdict verdict, CancellationToken ct)
    {
        if ((_state.Agreed & noReplyFlag) != 0 || _stages!.PeerLeft)
            return; // we promised not to answer this stage, or no one is there to read the answer
        // SKIP answers a body chunk only: Postfix takes it elsewhere as "skip every further event of
        // this type" (the next RCPTs would go unfiltered), sendmail as a filter state it does not expect.
        var skipAllowed = noReplyFlag == ProtocolFlags.NoReplyBody && (_state.Agreed & ProtocolFlags.Skip) != 0;
        ReplyCodec.WriteVerdict(_transport.Output, verdict, skipAllowed);
        await _transport.Output.FlushAsync(ct).ConfigureAwait(false);
    }

    private async ValueTask EndOfMessageAsync(CancellationToken ct)
    {
        var modifier = new MessageModifier(_context.Actions);
        var verdict = await _stages!.CallAsync(MilterStages.EndOfMessage, static (h, m, x, t) => h.OnEndOfMessageAsync((IMessageModifier)m!, x, t), modifier, ct, progress: true).ConfigureAwait(false);
        if (verdict.Kind is VerdictKind.Skip)
            verdict = Verdict.Continue;
        if (_stages.PeerLeft)
            return;
        // Answered per on_error: what the handler had begun to change is dropped, not sent half made
        // (and a handler still inside its call may yet be adding to it).
        if (!_stages.LastCallFailed)
        {
            foreach (var m in modifier.Modifications)
                ReplyCodec.WriteModification(_transport.Output, m);
        }
        ReplyCodec.WriteVerdict(_transport.Output, verdict, skipAllowed: false);
        await _transport.Output.FlushAsync(ct).ConfigureAwait(false);
        EndMessage();
    }

    private async ValueTask AbortMessageAsync(CancellationToken ct, bool keepMailMacros = false)
    {
        await _stages!.AbortAsync(ct).ConfigureAwait(false);
        EndMessage(keepMailMacros);
    }

    private void EndMessage(bool keepMailMacros = false)
    {
        if (keepMailMacros)
        {
            // The MACRO M that came just before this MAIL belongs to the new message.
            foreach (var stage in "RTLNEB")
                _context.Macros.Clear(stage);
        }
        else
        {
            _context.Macros.ClearMessage();
        }
        _state.EndMessage();
    }

    private async ValueTask CloseSmtpSessionAsync()
    {
        var messageOpen = _state.Current == SessionState.Phase.Message;
        if (!_state.CloseSmtpSession())
            return;
        if (messageOpen)
            await _stages!.AbortLeftMessageAsync().ConfigureAwait(false);
        await _stages!.CloseAsync().ConfigureAwait(false);
    }

    /// <summary>Runs a parser on the payload as one span, copying into a pooled buffer only when it spans segments.</summary>
    private static T WithSpan<TState, T>(ReadOnlySequence<byte> payload, TState state, SpanParser<TState, T> parse)
    {
        if (payload.IsSingleSegment)
            return parse(payload.FirstSpan, state);
        var length = checked((int)payload.Length);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            payload.CopyTo(rented);
            return parse(rented.AsSpan(0, length), state);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private delegate T SpanParser<TState, T>(ReadOnlySpan<byte> span, TState state);
}
