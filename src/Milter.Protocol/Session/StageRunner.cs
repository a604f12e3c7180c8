using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Logging;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

/// <summary>
/// Calls the handler for one stage at a time and bounds the call: a synchronous answer costs no
/// allocation; a slow one is awaited at most <see cref="MilterLimits.StageTimeout"/> (sending
/// PROGRESS meanwhile at end of message), with the socket watched so that an MTA that leaves is
/// noticed at once. A handler that throws, overruns or outlives its MTA is answered with
/// <see cref="SessionOptions.FailureVerdict"/>. One runner per connection, for its whole life.
/// </summary>
internal sealed class StageRunner : IDisposable
{
    private readonly IMilterHandler _handler;
    private readonly MilterConnectionContext _context;
    private readonly SessionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PipeWriter _output;
    private readonly CancellationToken _sessionToken;
    // The connection's socket, watched while the handler works (null: a pipe without one, as in tests).
    private readonly Socket? _socket;
    private readonly Action? _peerLeftCallback;
    private PeerWatch? _peerWatch;
    private CancellationTokenSource _stageCts;

    /// <param name="sessionToken">The session's hard stop; each stage's token is linked to it.</param>
    public StageRunner(IMilterHandler handler, MilterConnectionContext context, SessionOptions options, TimeProvider time, ILogger logger,
        PipeWriter output, Socket? socket, Action? peerLeft, CancellationToken sessionToken)
    {
        _handler = handler;
        _context = context;
        _options = options;
        _time = time;
        _logger = logger;
        _output = output;
        _socket = socket;
        _peerLeftCallback = peerLeft;
        _sessionToken = sessionToken;
        _stageCts = CancellationTokenSource.CreateLinkedTokenSource(sessionToken);
    }

    /// <summary>The handler ignored cancellation and is still inside its call: it must not be called again.</summary>
    public bool HandlerStuck { get; private set; }

    /// <summary>
    /// The last call was answered per on_error (the handler threw, overran the stage or was left by the
    /// MTA), not by the handler: whatever it had begun (end-of-message modifications) is not sent.
    /// </summary>
    public bool LastCallFailed { get; private set; }

    /// <summary>The MTA closed the connection or sent QUIT while the handler worked: nothing more is answered.</summary>
    public bool PeerLeft { get; private set; }

    /// <summary>The token the handler gets for the current stage; cancelled when the stage overruns or the MTA leaves.</summary>
    public CancellationToken Token => _stageCts.Token;

    public void Dispose() => _stageCts.Dispose();

    /// <summary>Calls the handler for <paramref name="stage"/> through <paramref name="call"/>, bounded as the class says.</summary>
    public ValueTask<Verdict> CallAsync(
        MilterStages stage,
        Func<IMilterHandler, object?, MilterConnectionContext, CancellationToken, ValueTask<Verdict>> call,
        object? argument,
        CancellationToken ct,
        bool progress = false)
    {
        ValueTask<Verdict> pending;
        LastCallFailed = false;
        try
        {
            pending = call(_handler, argument, _context, _stageCts.Token);
        }
        catch (Exception e)
        {
            return ValueTask.FromResult(Fail(e, stage));
        }
        return pending.IsCompletedSuccessfully ? new ValueTask<Verdict>(pending.Result) : SlowAsync(pending, stage, progress, ct);
    }

    /// <summary>Calls the handler with one body chunk, a view into the pipe that stays valid until this call completes.</summary>
    public ValueTask<Verdict> CallBodyAsync(ReadOnlySequence<byte> chunk, CancellationToken ct)
    {
        ValueTask<Verdict> call;
        LastCallFailed = false;
        try
        {
            call = _handler.OnBodyAsync(chunk, _context, _stageCts.Token);
        }
        catch (Exception e)
        {
            return ValueTask.FromResult(Fail(e, MilterStages.Body));
        }
        // The session does not advance the reader before this call completes.
        return call.IsCompletedSuccessfully ? new ValueTask<Verdict>(call.Result) : SlowAsync(call, MilterStages.Body, progress: false, ct);
    }

    /// <summary>ABORT: the handler drops the message; it has no answer to give, so a failure is only logged.</summary>
    public async ValueTask AbortAsync(CancellationToken ct)
    {
        try
        {
            await _handler.OnAbortAsync(_context, _stageCts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            ProtocolLog.HandlerFailed(_logger, e, _context.ConnectionId, "ABORT", "nothing (no reply to ABORT)");
        }
    }

    /// <summary>
    /// The MTA left (QUIT or the connection closed) with a message open: the handler drops it as at
    /// ABORT before it hears of the close, as libmilter calls xxfi_abort before xxfi_close. Not with
    /// the stage's token, which the MTA's leaving may have cancelled, but with the session's: the
    /// daemon's shutdown still cuts it off. A failure is only logged.
    /// </summary>
    public async ValueTask AbortLeftMessageAsync()
    {
        try
        {
            await _handler.OnAbortAsync(_context, _sessionToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_sessionToken.IsCancellationRequested)
        {
            // Cut off by the daemon's shutdown.
        }
        catch (Exception e)
        {
            ProtocolLog.HandlerFailed(_logger, e, _context.ConnectionId, "ABORT", "nothing (the MTA left during the message)");
        }
    }

    /// <summary>The SMTP session ended: the handler drops its state (cut off only by the daemon's shutdown); a failure is only logged.</summary>
    public async ValueTask CloseAsync()
    {
        try
        {
            await _handler.OnCloseAsync(_context, _sessionToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_sessionToken.IsCancellationRequested)
        {
            // Cut off by the daemon's shutdown.
        }
        catch (Exception e)
        {
            ProtocolLog.HandlerFailed(_logger, e, _context.ConnectionId, "CLOSE", "nothing (no reply to QUIT)");
        }
    }

    private ValueTask<Verdict> SlowAsync(ValueTask<Verdict> pending, MilterStages stage, bool progress, CancellationToken ct)
    {
        // While the handler works, the socket is watched: an MTA that leaves (sendmail's milter timeout
        // sends QUIT and closes) gets its handler cancelled and its place under the cap back at once.
        var watch = _socket is null ? null : (_peerWatch ??= new PeerWatch(_socket)).LeftAsync();
        return AwaitHandlerAsync(pending.AsTask(), watch, stage, progress, ct);
    }

    private async ValueTask<Verdict> AwaitHandlerAsync(Task<Verdict> task, Task<bool>? watch, MilterStages stage, bool progress, CancellationToken ct)
    {
        var deadline = _time.GetTimestamp();
        var timeout = _options.Limits.StageTimeout;
        while (true)
        {
            var left = timeout - _time.GetElapsedTime(deadline);
            if (left <= TimeSpan.Zero)
                break;
            var wait = progress && _options.Limits.ProgressInterval < left ? _options.Limits.ProgressInterval : left;
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
                    FrameWriter.Write(_output, (byte)ReplyCode.Progress);
                    await _output.FlushAsync(ct).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // It may have finished just as the wait timed out.
                return task.IsCompletedSuccessfully ? task.Result : Fail(e, stage);
            }
        }

        ProtocolLog.HandlerTimedOut(_logger, _context.ConnectionId, StageName(stage), timeout.TotalSeconds, _options.FailureVerdict.ToString());
        LastCallFailed = true;
        await _stageCts.CancelAsync().ConfigureAwait(false);
        try
        {
            await task.WaitAsync(_options.Limits.CancelGrace, _time, ct).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            // The handler ignores cancellation (a store call stuck in the kernel): the MTA still gets
            // the on_error answer for this stage, then the connection closes, so the handler never
            // runs beside a next stage.
            ProtocolLog.HandlerStuck(_logger, _context.ConnectionId, StageName(stage));
            HandlerStuck = true;
            return _options.FailureVerdict;
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // It stopped, as asked.
        }
        _stageCts.Dispose();
        _stageCts = CancellationTokenSource.CreateLinkedTokenSource(_sessionToken);
        return _options.FailureVerdict;
    }

    /// <summary>
    /// The MTA left while the handler worked on <paramref name="stage"/>: the server hears of it at
    /// once (the connection's place is free), the handler is cancelled and given the cancel grace to
    /// stop, and nothing more is answered.
    /// </summary>
    private async ValueTask<Verdict> PeerLeftAsync(Task<Verdict> task, MilterStages stage, CancellationToken ct)
    {
        PeerLeft = true;
        LastCallFailed = true;
        _peerLeftCallback?.Invoke();
        ProtocolLog.PeerLeftDuringStage(_logger, _context.ConnectionId, StageName(stage));
        await _stageCts.CancelAsync().ConfigureAwait(false);
        try
        {
            await task.WaitAsync(_options.Limits.CancelGrace, _time, ct).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            // Still inside its call: not told of the close either (one call at a time).
            ProtocolLog.HandlerStuckAfterPeerLeft(_logger, _context.ConnectionId, StageName(stage), _options.Limits.CancelGrace.TotalSeconds);
            HandlerStuck = true;
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // It stopped, as asked.
        }
        return _options.FailureVerdict;
    }

    private Verdict Fail(Exception e, MilterStages stage)
    {
        LastCallFailed = true;
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
}
