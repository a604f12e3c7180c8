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
/// The filter's side of one milter connection: reads frames, keeps the state machine, calls the
/// handler one stage at a time, and writes the replies. Bad input from the MTA closes this
/// connection with one log line; nothing a peer sends escapes <see cref="RunAsync"/>.
/// </summary>
public sealed class MilterSession
{
    // Where the SMTP session stands. EOM and ABORT return to AfterHelo; QUIT_NC to Negotiated.
    private enum Phase { Start, Negotiated, Connected, Message }

    // Message stages in the order the MTA sends them; a stage may repeat (RCPT, HEADER, BODY) but
    // never go back.
    private enum MessageStep { None, Mail, Rcpt, Data, Header, EndOfHeaders, Body }

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
    // The connection's socket, watched while the handler works (null: a pipe without one, as in tests).
    private readonly Socket? _socket;
    private readonly Action? _peerLeftCallback;
    private PeerWatch? _peerWatch;

    private Phase _phase = Phase.Start;
    private MessageStep _step = MessageStep.None;
    private ProtocolFlags _agreed;
    private long _headerBytes;
    private bool _handlerStuck;
    // The MTA closed the connection or sent QUIT while the handler worked: nothing more is answered.
    private bool _peerLeft;
    private CancellationTokenSource? _stageCts;

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
        _stageCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (true)
            {
                idle.CancelAfter(_options.IdleTimeout);
                var result = await reader.ReadAsync(idle.Token).ConfigureAwait(false);
                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                var buffer = result.Buffer;
                var open = true;
                try
                {
                    while (open && FrameReader.TryRead(ref buffer, _options.MaxFrameSize, out var code, out var payload))
                        open = await DispatchAsync(code, payload, cancellationToken).ConfigureAwait(false) && !_handlerStuck && !_peerLeft;
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }
                if (!open)
                {
                    if (_handlerStuck)
                    {
                        // The handler is still inside its stuck call: calling it again (OnCloseAsync)
                        // would break the one-call-at-a-time promise, so it is not told.
                        _phase = Phase.Negotiated;
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
            ProtocolLog.IdleTimeout(_logger, _context.ConnectionId, _options.IdleTimeout.TotalSeconds);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            ProtocolLog.PeerGone(_logger, _context.ConnectionId, e.Message);
        }
        catch (Exception e)
        {
            ProtocolLog.SessionFailed(_logger, e, _context.ConnectionId);
        }
        finally
        {
            await CloseSmtpSessionAsync().ConfigureAwait(false);
            _stageCts.Dispose();
            await reader.CompleteAsync().ConfigureAwait(false);
            await _transport.Output.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Handles one frame; returns false when the connection should close (QUIT).</summary>
    private async ValueTask<bool> DispatchAsync(byte code, ReadOnlySequence<byte> payload, CancellationToken ct)
    {
        var command = (CommandCode)code;
        if (_phase == Phase.Start && command != CommandCode.OptionNegotiation)
        {
            if (!Enum.IsDefined(command))
                throw new MilterProtocolException(ProtocolViolation.UnknownCommand, $"command byte 0x{code:x2}");
            throw new MilterProtocolException(ProtocolViolation.CommandBeforeNegotiation, $"{command} before OPTNEG");
        }

        switch (command)
        {
            case CommandCode.OptionNegotiation:
                await NegotiateAsync(payload, ct).ConfigureAwait(false);
                return true;

            case CommandCode.Macro:
                _macroScratch.Clear();
                var stage = WithSpan(payload, this, static (s, self) => CommandCodec.ParseMacros(s, self._options.MaxMacrosPerPacket, self._macroScratch));
                _context.Macros.SetStage(stage, _macroScratch);
                _macroScratch.Clear();
                return true;

            case CommandCode.Connect:
            {
                if (_phase != Phase.Negotiated)
                    throw OutOfOrder("CONNECT twice in one SMTP session");
                var connect = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseConnect(s));
                _phase = Phase.Connected;
                _context.SmtpSessionCount++;
                var v = await CallAsync(MilterStages.Connect, static (h, c, x, t) => h.OnConnectAsync((ConnectCommand)c!, x, t), connect, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyConnect, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Helo:
            {
                EnsureSmtpSession(ProtocolFlags.NoConnect, "HELO");
                if (_phase == Phase.Message)
                {
                    // EHLO resets the SMTP transaction; sendmail does not ABORT a filter that already
                    // answered the message finally, so treat it as the abort it implies.
                    await AbortMessageAsync(ct).ConfigureAwait(false);
                }
                var helo = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseHelo(s));
                var v = await CallAsync(MilterStages.Helo, static (h, c, x, t) => h.OnHeloAsync((HeloCommand)c!, x, t), helo, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyHelo, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Mail:
            {
                EnsureSmtpSession(ProtocolFlags.NoConnect, "MAIL");
                if (_phase == Phase.Message)
                {
                    // A new transaction without ABORT after an unfinished one (sendmail sends no ABORT to a
                    // filter that accepted or refused the message early): treat it as the abort it implies.
                    await AbortMessageAsync(ct, keepMailMacros: true).ConfigureAwait(false);
                }
                var mail = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseMail(s));
                _phase = Phase.Message;
                _step = MessageStep.Mail;
                var v = await CallAsync(MilterStages.Mail, static (h, c, x, t) => h.OnMailAsync((MailCommand)c!, x, t), mail, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyMail, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Rcpt:
            {
                EnterMessageStep(MessageStep.Rcpt, "RCPT");
                var rcpt = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseRcpt(s));
                var v = await CallAsync(MilterStages.Rcpt, static (h, c, x, t) => h.OnRcptAsync((RcptCommand)c!, x, t), rcpt, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyRcpt, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Data:
            {
                EnterMessageStep(MessageStep.Data, "DATA");
                var v = await CallAsync(MilterStages.Data, static (h, _, x, t) => h.OnDataAsync(x, t), null, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyData, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Header:
            {
                EnterMessageStep(MessageStep.Header, "HEADER");
                _headerBytes += payload.Length;
                if (_headerBytes > _options.MaxHeaderBytes)
                    throw new MilterProtocolException(ProtocolViolation.HeadersTooLarge, $"more than {_options.MaxHeaderBytes} bytes of headers in one message");
                if (!WithSpan(payload, _needs, static (s, needs) => needs.WantsHeader(s)))
                {
                    // A header no one reads: a malformed one is not noticed, which costs nothing.
                    await ReplyAsync(ProtocolFlags.NoReplyHeader, Verdict.Continue, ct).ConfigureAwait(false);
                    return true;
                }
                var header = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseHeader(s));
                var v = await CallAsync(MilterStages.Header, static (h, c, x, t) => h.OnHeaderAsync((HeaderCommand)c!, x, t), header, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyHeader, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.EndOfHeaders:
            {
                EnterMessageStep(MessageStep.EndOfHeaders, "EOH");
                var v = await CallAsync(MilterStages.EndOfHeaders, static (h, _, x, t) => h.OnEndOfHeadersAsync(x, t), null, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyEoh, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Body:
            {
                EnterMessageStep(MessageStep.Body, "BODY");
                var v = await CallBodyAsync(payload, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyBody, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.EndOfMessage:
            {
                EnterMessageStep(MessageStep.Body, "EOM");
                if (!payload.IsEmpty)
                {
                    // A final body chunk may ride along with BODYEOB.
                    var chunk = await CallBodyAsync(payload, ct).ConfigureAwait(false);
                    _ = chunk; // its verdict is superseded by the end-of-message answer
                }
                await EndOfMessageAsync(ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Abort:
                if (_phase == Phase.Message)
                    await AbortMessageAsync(ct).ConfigureAwait(false);
                else if (_phase == Phase.Connected)
                    _context.Macros.ClearMessage(); // ABORT twice in a row (Postfix) or before MAIL: nothing to abandon
                return true;

            case CommandCode.Unknown:
            {
                var unknown = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseUnknown(s));
                var v = await CallAsync(MilterStages.Unknown, static (h, c, x, t) => h.OnUnknownAsync((UnknownCommand)c!, x, t), unknown, ct).ConfigureAwait(false);
                await ReplyAsync(ProtocolFlags.NoReplyUnknown, v, ct).ConfigureAwait(false);
                return true;
            }

            case CommandCode.Quit:
                return false;

            case CommandCode.QuitNewConnection:
                await CloseSmtpSessionAsync().ConfigureAwait(false);
                _context.Macros.ClearAll();
                _phase = Phase.Negotiated;
                _step = MessageStep.None;
                _headerBytes = 0;
                return true;

            default:
                throw new MilterProtocolException(ProtocolViolation.UnknownCommand, $"command byte 0x{code:x2}");
        }
    }

    private async ValueTask NegotiateAsync(ReadOnlySequence<byte> payload, CancellationToken ct)
    {
        if (_phase != Phase.Start)
            throw new MilterProtocolException(ProtocolViolation.DuplicateNegotiation, "OPTNEG a second time");
        var offer = WithSpan(payload, 0, static (s, _) => CommandCodec.ParseOptionNegotiation(s));
        var needs = _needs;
        var answer = _negotiations is null ? Negotiator.Negotiate(offer, needs) : _negotiations.Negotiate(offer, needs);
        _agreed = answer.Protocol;
        _context.Version = answer.Version;
        _context.Actions = answer.Actions;
        _context.Protocol = answer.Protocol;
        _phase = Phase.Negotiated;
        ProtocolLog.Negotiated(_logger, _context.ConnectionId, answer.Version, (uint)answer.Actions, (uint)answer.Protocol, (uint)offer.Protocol);
        CommandCodec.WriteOptionNegotiation(_transport.Output, (byte)ReplyCode.OptionNegotiation, answer);
        await _transport.Output.FlushAsync(ct).ConfigureAwait(false);
    }

    private void EnsureSmtpSession(ProtocolFlags skippedConnect, string what)
    {
        if (_phase == Phase.Negotiated)
        {
            // Without CONNECT (negotiated away) the SMTP session starts with whatever comes first.
            if ((_agreed & skippedConnect) == 0)
                throw OutOfOrder($"{what} before CONNECT");
            _phase = Phase.Connected;
            _context.SmtpSessionCount++;
        }
    }

    /// <summary>Checks a message stage against the state machine and moves to it.</summary>
    private void EnterMessageStep(MessageStep step, string what)
    {
        EnsureSmtpSession(ProtocolFlags.NoConnect, what);
        if (_phase != Phase.Message)
        {
            // Without MAIL (negotiated away) a message starts with its first stage.
            if ((_agreed & ProtocolFlags.NoMail) == 0)
                throw OutOfOrder(_step == MessageStep.None && what == "RCPT" ? "RCPT before MAIL" : $"{what} outside a message");
            _phase = Phase.Message;
            _step = MessageStep.None;
        }
        if (step < _step)
            throw OutOfOrder($"{what} after {_step}");
        _step = step;
    }

    private static MilterProtocolException OutOfOrder(string detail) => new(ProtocolViolation.CommandOutOfOrder, detail);

    private async ValueTask ReplyAsync(ProtocolFlags noReplyFlag, Verdict verdict, CancellationToken ct)
    {
        if ((_agreed & noReplyFlag) != 0 || _peerLeft)
            return; // we promised not to answer this stage, or no one is there to read the answer
        // SKIP answers a body chunk only: Postfix takes it elsewhere as "skip every further event of
        // this type" (the next RCPTs would go unfiltered), sendmail as a filter state it does not expect.
        var skipAllowed = noReplyFlag == ProtocolFlags.NoReplyBody && (_agreed & ProtocolFlags.Skip) != 0;
        ReplyCodec.WriteVerdict(_transport.Output, verdict, skipAllowed);
        await _transport.Output.FlushAsync(ct).ConfigureAwait(false);
    }

    private async ValueTask EndOfMessageAsync(CancellationToken ct)
    {
        var modifier = new MessageModifier(_context.Actions);
        var verdict = await CallAsync(MilterStages.EndOfMessage, static (h, m, x, t) => h.OnEndOfMessageAsync((IMessageModifier)m!, x, t), modifier, ct, progress: true).ConfigureAwait(false);
        if (verdict.Kind is VerdictKind.Skip)
            verdict = Verdict.Continue;
        if (_peerLeft)
            return;
        foreach (var m in modifier.Modifications)
            ReplyCodec.WriteModification(_transport.Output, m);
        ReplyCodec.WriteVerdict(_transport.Output, verdict, skipAllowed: false);
        await _transport.Output.FlushAsync(ct).ConfigureAwait(false);
        EndMessage();
    }

    private async ValueTask AbortMessageAsync(CancellationToken ct, bool keepMailMacros = false)
    {
        try
        {
            await _handler.OnAbortAsync(_context, _stageCts!.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            ProtocolLog.HandlerFailed(_logger, e, _context.ConnectionId, "ABORT", "nothing (no reply to ABORT)");
        }
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
        _phase = Phase.Connected;
        _step = MessageStep.None;
        _headerBytes = 0;
    }

    private async ValueTask CloseSmtpSessionAsync()
    {
        if (_phase is not (Phase.Connected or Phase.Message))
            return;
        _phase = Phase.Negotiated;
        try
        {
            await _handler.OnCloseAsync(_context, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            ProtocolLog.HandlerFailed(_logger, e, _context.ConnectionId, "CLOSE", "nothing (no reply to QUIT)");
        }
    }

    private ValueTask<Verdict> CallBodyAsync(ReadOnlySequence<byte> chunk, CancellationToken ct)
    {
        ValueTask<Verdict> call;
        try
        {
            call = _handler.OnBodyAsync(chunk, _context, _stageCts!.Token);
        }
        catch (Exception e)
        {
            return ValueTask.FromResult(Fail(e, MilterStages.Body));
        }
        // The chunk is a view into the pipe: it stays valid because we do not advance the reader
        // before this call completes.
        return call.IsCompletedSuccessfully ? new ValueTask<Verdict>(call.Result) : SlowAsync(call, MilterStages.Body, progress: false, ct);
    }

    /// <summary>
    /// Calls the handler for one stage. The common case (a synchronous answer) costs no allocation;
    /// a slow handler is bounded by <see cref="SessionOptions.StageTimeout"/>.
    /// </summary>
    private ValueTask<Verdict> CallAsync(
        MilterStages stage,
        Func<IMilterHandler, object?, MilterConnectionContext, CancellationToken, ValueTask<Verdict>> call,
        object? argument,
        CancellationToken ct,
        bool progress = false)
    {
        ValueTask<Verdict> pending;
        try
        {
            pending = call(_handler, argument, _context, _stageCts!.Token);
        }
        catch (Exception e)
        {
            return ValueTask.FromResult(Fail(e, stage));
        }
        return pending.IsCompletedSuccessfully ? new ValueTask<Verdict>(pending.Result) : SlowAsync(pending, stage, progress, ct);
    }

    private async ValueTask<Verdict> SlowAsync(ValueTask<Verdict> pending, MilterStages stage, bool progress, CancellationToken ct)
    {
        var task = pending.AsTask();
        // While the handler works, the socket is watched: an MTA that leaves (sendmail's milter timeout
        // sends QUIT and closes) gets its handler cancelled and its place under the cap back at once.
        using var stopWatch = _socket is null ? null : new CancellationTokenSource();
        var watch = stopWatch is null ? null : (_peerWatch ??= new PeerWatch(_socket!)).LeftAsync(stopWatch.Token);
        try
        {
            return await AwaitHandlerAsync(task, watch, stage, progress, ct).ConfigureAwait(false);
        }
        finally
        {
            // The socket's next read is the session's own: the look must not be pending then.
            if (watch is { IsCompleted: false })
                stopWatch!.Cancel();
        }
    }

    private async ValueTask<Verdict> AwaitHandlerAsync(Task<Verdict> task, Task<bool>? watch, MilterStages stage, bool progress, CancellationToken ct)
    {
        var deadline = _time.GetTimestamp();
        var timeout = _options.StageTimeout;
        while (true)
        {
            var left = timeout - _time.GetElapsedTime(deadline);
            if (left <= TimeSpan.Zero)
                break;
            var wait = progress && _options.ProgressInterval < left ? _options.ProgressInterval : left;
            try
            {
                if (watch is null)
                    return await task.WaitAsync(wait, _time, ct).ConfigureAwait(false);
                if (await Task.WhenAny(task, watch).WaitAsync(wait, _time, ct).ConfigureAwait(false) == task)
                    return await task.ConfigureAwait(false);
                if (watch.IsCompletedSuccessfully && watch.Result)
                    return await PeerLeftAsync(task, stage, ct).ConfigureAwait(false);
                watch = null; // something else arrived (a no-reply command): the handler is awaited as before
                continue;
            }
            catch (TimeoutException) when (!task.IsCompleted)
            {
                // Only our wait timed out: a TimeoutException from the handler itself (a store that
                // did not answer) is its failure, handled below, not a reason to keep waiting.
                if (progress && _time.GetElapsedTime(deadline) < timeout)
                {
                    // PROGRESS restarts sendmail's timeout. sendmail accepts it only while it waits for the
                    // end-of-message answer (milter_data); at other stages it would drop the filter.
                    FrameWriter.Write(_transport.Output, (byte)ReplyCode.Progress);
                    await _transport.Output.FlushAsync(ct).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // It may have finished just as the wait timed out.
                return task.IsCompletedSuccessfully ? task.Result : Fail(e, stage);
            }
        }

        ProtocolLog.HandlerTimedOut(_logger, _context.ConnectionId, StageName(stage), timeout.TotalSeconds, _options.FailureVerdict.ToString());
        await _stageCts!.CancelAsync().ConfigureAwait(false);
        try
        {
            await task.WaitAsync(_options.CancelGrace, _time, ct).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            // The handler ignores cancellation (a store call stuck in the kernel): the MTA still gets
            // the on_error answer for this stage, then the connection closes, so the handler never
            // runs beside a next stage.
            ProtocolLog.HandlerStuck(_logger, _context.ConnectionId, StageName(stage));
            _handlerStuck = true;
            return _options.FailureVerdict;
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // It stopped, as asked.
        }
        _stageCts.Dispose();
        _stageCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        return _options.FailureVerdict;
    }

    /// <summary>
    /// The MTA left while the handler worked on <paramref name="stage"/>: the server hears of it at
    /// once (the connection's place is free), the handler is cancelled and given the cancel grace to
    /// stop, and nothing more is answered.
    /// </summary>
    private async ValueTask<Verdict> PeerLeftAsync(Task<Verdict> task, MilterStages stage, CancellationToken ct)
    {
        _peerLeft = true;
        _peerLeftCallback?.Invoke();
        ProtocolLog.PeerLeftDuringStage(_logger, _context.ConnectionId, StageName(stage));
        await _stageCts!.CancelAsync().ConfigureAwait(false);
        try
        {
            await task.WaitAsync(_options.CancelGrace, _time, ct).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            // Still inside its call: not told of the close either (one call at a time).
            ProtocolLog.HandlerStuckAfterPeerLeft(_logger, _context.ConnectionId, StageName(stage), _options.CancelGrace.TotalSeconds);
            _handlerStuck = true;
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // It stopped, as asked.
        }
        return _options.FailureVerdict;
    }

    private Verdict Fail(Exception e, MilterStages stage)
    {
        ProtocolLog.HandlerFailed(_logger, e, _context.ConnectionId, StageName(stage), _options.FailureVerdict.ToString());
        return _options.FailureVerdict;
    }

    private static string StageName(MilterStages stage) => stage switch
    {
        MilterStages.Connect => "CONNECT",
        MilterStages.Helo => "HELO",
        MilterStages.Mail => "MAIL",
        MilterStages.Rcpt => "RCPT",
        MilterStages.Data => "DATA",
        MilterStages.Header => "HEADER",
        MilterStages.EndOfHeaders => "EOH",
        MilterStages.Body => "BODY",
        MilterStages.EndOfMessage => "EOM",
        MilterStages.Unknown => "UNKNOWN",
        _ => stage.ToString(),
    };

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
