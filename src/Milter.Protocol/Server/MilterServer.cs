using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Logging;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Session;

namespace Milter.Protocol.Server;

/// <summary>
/// Accepts milter connections on a bound, listening socket (Unix or TCP) and runs one
/// <see cref="MilterSession"/> per connection with a fresh handler from the factory.
/// </summary>
public sealed class MilterServer
{
    private readonly Socket _listener;
    private readonly Func<IMilterHandler> _handlerFactory;
    private readonly Func<SessionOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<long, Task> _sessions = new();
    // Connections counted against the cap: a session leaves it as soon as its conversation ends, before
    // its socket closes, so an MTA that reconnects the moment it sees the close finds the slot free.
    private int _occupied;
    private readonly NegotiationCache _negotiations = new();
    // A session spends most of its life waiting for the MTA's next command. With zero-byte reads it
    // waits without a buffer and rents one only once bytes are there; otherwise each waiting session
    // holds 4 KB, and 512 of them hold more than the shared pool keeps, so its buffers are allocated
    // anew and promoted with the session (bench/RESULTS.md, ninth pass). The answers are a few bytes:
    // the writer starts small and rents more only for a long modification. Immutable, so shared.
    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true);
    private static readonly StreamPipeWriterOptions WriterOptions = new(minimumBufferSize: 512, leaveOpen: true);
    private long _nextConnectionId;
    private long _refusedInBurst;
    private long _lastCapLog = long.MinValue;

    /// <param name="listener">A bound socket on which Listen has been called.</param>
    /// <param name="handlerFactory">Called once per connection; the handler's requirements are read at OPTNEG.</param>
    /// <param name="options">Read per connection, so a reload changes the limits of new connections.</param>
    public MilterServer(Socket listener, Func<IMilterHandler> handlerFactory, Func<SessionOptions> options, TimeProvider time, ILogger<MilterServer> logger)
    {
        _listener = listener;
        _handlerFactory = handlerFactory;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Connections open now.</summary>
    public int ActiveConnections => Volatile.Read(ref _occupied);

    /// <summary>Sessions the server waits for at shutdown (for tests: none may stay behind once ended).</summary>
    internal int TrackedSessions => _sessions.Count;

    /// <summary>
    /// Takes the next connection off the listener: its AcceptAsync. Tests put a failure the system
    /// cannot be made to give on demand (ENOBUFS, ENOMEM) in front of it.
    /// </summary>
    internal Func<Socket, CancellationToken, ValueTask<Socket>> AcceptConnection { get; init; } = static (listener, ct) => listener.AcceptAsync(ct);

    // How long the accept loop waits after a failed accept: doubled while the failures last.
    private static readonly TimeSpan MinAcceptRetry = TimeSpan.FromMilliseconds(10), MaxAcceptRetry = TimeSpan.FromSeconds(1);

    /// <summary>Connections refused at the cap since start.</summary>
    public long RefusedConnections { get; private set; }

    /// <summary>
    /// Accepts until <paramref name="stoppingToken"/>; then closes the listening socket, lets sessions
    /// in flight finish for the shutdown grace period, cuts off the rest, and returns.
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var hardStop = new CancellationTokenSource();
        // Sessions start on this loop's thread, so the stretch counts their first steps too.
        var budget = new SocketThreadBudget(_time);
        var failureDelay = TimeSpan.Zero;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    var accept = AcceptConnection(_listener, stoppingToken);
                    var waits = !accept.IsCompleted;
                    if (!waits && budget.Spent)
                    {
                        await Task.Yield();
                        budget.Restart();
                    }
                    socket = await accept.ConfigureAwait(false);
                    if (waits)
                        budget.Restart();
                }
                catch (Exception e) when (e is OperationCanceledException || (stoppingToken.IsCancellationRequested && e is SocketException or ObjectDisposedException))
                {
                    break; // stopping (the owner may also have closed the listening socket)
                }
                catch (SocketException e) when (e.SocketErrorCode != SocketError.OperationAborted)
                {
                    // A connection that went before it was taken, or the system short of descriptors,
                    // buffers or memory (EMFILE, ENOBUFS, ENOMEM), or a network error accept(2) passes
                    // on (TCP): none is the listener's end (closed under it, it says OperationAborted,
                    // and that ends the loop). Keep accepting, as libmilter does; while
                    // the failures last, wait longer each time (at most a second), so the log gets at
                    // most a line a second and the loop never spins.
                    ProtocolLog.AcceptFailed(_logger, e);
                    if (e.SocketErrorCode is not (SocketError.ConnectionAborted or SocketError.ConnectionReset))
                    {
                        failureDelay = failureDelay == TimeSpan.Zero ? MinAcceptRetry : TimeSpan.FromTicks(Math.Min(failureDelay.Ticks * 2, MaxAcceptRetry.Ticks));
                        try
                        {
                            await Task.Delay(failureDelay, _time, stoppingToken).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            break;
                        }
                    }
                    continue;
                }
                failureDelay = TimeSpan.Zero;

                var options = _options();
                if (Volatile.Read(ref _occupied) >= options.Limits.MaxConnections)
                {
                    Refuse(socket, options.Limits.MaxConnections);
                    continue;
                }
                if (_refusedInBurst > 0)
                    ReportRefusals(options.Limits.MaxConnections, final: false);
                var id = Interlocked.Increment(ref _nextConnectionId);
                Interlocked.Increment(ref _occupied);
                // Registered before it starts, so its own removal can never come first; then run here
                // until its first read waits (the OPTNEG usually came with the connection) or its
                // stretch is spent (SocketThreadBudget): no hand-off to the thread pool per connection.
                var start = new Task<Task>(() => RunSessionAsync(socket, id, options, hardStop.Token));
                _sessions[id] = start.Unwrap();
                start.RunSynchronously(TaskScheduler.Default);
            }
        }
        finally
        {
            // Stop accepting for real: an open listener would let the kernel queue new connections in
            // its backlog, unanswered, until the MTA's connect timeout; closed, they are refused at once
            // and the MTA applies its own fallback (sendmail's F=). Closing also unlinks a Unix socket file.
            _listener.Close();
            if (_refusedInBurst > 0)
                ReportRefusals(_options().Limits.MaxConnections, final: true);
            await DrainAsync(hardStop).ConfigureAwait(false);
        }
    }

    private async Task DrainAsync(CancellationTokenSource hardStop)
    {
        var grace = _options().Limits.ShutdownGrace;
        var all = Task.WhenAll(_sessions.Values);
        try
        {
            await all.WaitAsync(grace, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            ProtocolLog.SessionsCutOff(_logger, _sessions.Count);
            await hardStop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_sessions.Values).ConfigureAwait(false);
        }
    }

    private async Task RunSessionAsync(Socket socket, long id, SessionOptions options, CancellationToken hardStop)
    {
        var occupied = 1;
        void Vacate()
        {
            if (Interlocked.Exchange(ref occupied, 0) == 1)
                Interlocked.Decrement(ref _occupied);
        }
        try
        {
            // The socket is closed by its own Dispose (after the stream's), not by the stream: a stream
            // that owns its socket shuts it down first, one more syscall per connection for a peer that
            // has in most cases closed already. close(2) alone sends the FIN (nothing else holds the
            // descriptor: it is opened close-on-exec).
            using var owned = socket;
            if (socket.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
                socket.NoDelay = true;
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var transport = new DuplexPipe(PipeReader.Create(stream, ReaderOptions), PipeWriter.Create(stream, WriterOptions));
            IMilterHandler handler;
            try
            {
                handler = _handlerFactory();
            }
            catch (Exception e)
            {
                ProtocolLog.SessionFailed(_logger, e, id);
                return;
            }
            var session = new MilterSession(transport, handler, options, _time, _logger, id, _negotiations, socket, Vacate);
            await session.RunAsync(hardStop).ConfigureAwait(false);
            Vacate();
            if (handler is IAsyncDisposable ad)
                await ad.DisposeAsync().ConfigureAwait(false);
            else if (handler is IDisposable d)
                d.Dispose();
        }
        catch (Exception e)
        {
            ProtocolLog.SessionFailed(_logger, e, id);
        }
        finally
        {
            Vacate();
            _sessions.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// One line per burst of refusals: the first one at once, then at most one summary every ten
    /// seconds, from a refusal or, once the burst is over, from the next connection served, so the
    /// last refusals of a burst are not left unreported until the next burst.
    /// </summary>
    private void ReportRefusals(int max, bool final)
    {
        var now = _time.GetTimestamp();
        if (!final && _lastCapLog != long.MinValue && _time.GetElapsedTime(_lastCapLog, now) < TimeSpan.FromSeconds(10))
            return;
        ProtocolLog.ConnectionCapReached(_logger, _refusedInBurst, max);
        _refusedInBurst = 0;
        _lastCapLog = now;
    }

    private void Refuse(Socket socket, int max)
    {
        RefusedConnections++;
        _refusedInBurst++;
        // Logged before the close, so that whoever sees the close can find the line.
        ReportRefusals(max, final: false);
        try
        {
            socket.Close(0);
        }
        catch (SocketException)
        {
        }
    }
}
