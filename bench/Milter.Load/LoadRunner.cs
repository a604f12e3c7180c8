using System.Net;

namespace Milter.Load;

/// <summary>
/// Drives <c>connections</c> concurrent SMTP sessions until <c>messages</c> messages have ended,
/// each session on its own milter connection, as sendmail opens one per SMTP connection.
/// </summary>
public sealed class LoadRunner
{
    private readonly EndPoint _target;
    private readonly TimeProvider _time;

    public LoadRunner(EndPoint target, TimeProvider time)
    {
        _target = target;
        _time = time;
    }

    /// <summary>When set, every message's start and end timestamps are kept (<see cref="Worker.Ends"/>) for a latency log.</summary>
    public bool KeepTimes { get; init; }

    /// <summary>
    /// One thread per connection with blocking sockets, as sendmail runs one process per SMTP session
    /// (the default of <c>run</c>); otherwise every connection on async sockets.
    /// </summary>
    public bool Threads { get; init; }

    /// <summary>With <see cref="Threads"/>: how each blocking connection waits for the filter (select first, as sendmail, by default).</summary>
    public Wait Wait { get; init; } = Wait.Select;

    /// <summary>The timestamp the last <see cref="RunAsync"/> started at.</summary>
    public long LastStarted { get; private set; }

    /// <summary>The workers of the last <see cref="RunAsync"/>.</summary>
    public IReadOnlyList<Worker> LastWorkers { get; private set; } = [];

    /// <summary>
    /// Runs <paramref name="sessionOf"/>(0), (1), ... until <paramref name="messages"/> messages are
    /// claimed or, when given, <paramref name="duration"/> has passed (sessions under way then finish).
    /// </summary>
    public async Task<RunResult> RunAsync(Func<long, SessionPlan> sessionOf, int connections, long messages, CancellationToken cancellationToken,
        TimeSpan? duration = null)
    {
        var driver = new SessionDriver(_target, _time, Threads, Wait);
        long nextSession = -1;
        long claimed = 0;
        var workers = new Worker[connections];
        var started = _time.GetTimestamp();
        LastStarted = started;
        var tasks = new Task[connections];
        for (var w = 0; w < connections; w++)
        {
            var worker = workers[w] = new Worker(_time, KeepTimes, runQueue: KeepTimes && Threads);
            async Task Loop()
            {
                // The worker's descriptors (its thread's schedstat) close with the loop: a run at C=512 opens 512.
                using var _ = worker;
                while (!cancellationToken.IsCancellationRequested && (duration is not { } d || _time.GetElapsedTime(started) < d))
                {
                    var plan = sessionOf(Interlocked.Increment(ref nextSession));
                    var want = plan.Messages.Length;
                    var upTo = Interlocked.Add(ref claimed, want);
                    var take = (int)Math.Min(want, messages - (upTo - want));
                    if (take <= 0)
                        return;
                    if (take < want)
                        plan = plan with { Messages = plan.Messages[..take] };
                    await worker.RunAsync(driver, plan, cancellationToken).ConfigureAwait(false);
                }
            }
            tasks[w] = Threads ? OnThread(Loop, $"load {w}") : Task.Run(Loop, cancellationToken);
        }
        await Task.WhenAll(tasks).ConfigureAwait(false);
        LastWorkers = workers;
        var elapsed = _time.GetElapsedTime(started);
        return RunResult.Merge(workers, elapsed, _time.TimestampFrequency);
    }

    /// <summary>Runs <paramref name="loop"/> on a thread of its own; with blocking sockets it completes there without yielding.</summary>
    private static Task OnThread(Func<Task> loop, string name)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                loop().GetAwaiter().GetResult();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }, maxStackSize: 256 * 1024) { IsBackground = true, Name = name };
        thread.Start();
        return done.Task;
    }

    /// <summary>One connection's bookkeeping; no sharing, so no locks.</summary>
    /// <param name="runQueue">Also keep, per message, how long the connection's own thread waited for a CPU
    /// (only where each connection is a thread of its own).</param>
    public sealed class Worker(TimeProvider time, bool keepTimes, bool runQueue = false) : IDisposable
    {
        private readonly ThreadRunQueue? _runQueue = runQueue ? new ThreadRunQueue() : null;

        public List<long> Latencies { get; } = new(4096);
        /// <summary>
        /// Each message's start and end timestamps, its replies' arrivals, and (with a thread per
        /// connection) the ns its thread waited for a CPU since the previous message ended, when kept.
        /// </summary>
        public List<(long Start, long End, (string Step, long At)[] Steps, long? WaitedNs)>? Ends { get; } = keepTimes ? new(4096) : null;
        public Dictionary<string, long> Outcomes { get; } = new(StringComparer.Ordinal);
        public long Errors { get; private set; }
        public long Refused { get; private set; }
        public long LostMessages { get; private set; }
        public string? FirstError { get; private set; }

        public void Dispose() => _runQueue?.Dispose();

        public async Task RunAsync(SessionDriver driver, SessionPlan plan, CancellationToken ct)
        {
            var ended = 0;
            var steps = Ends is null ? null : new List<(string, long)>();
            var waited = _runQueue?.WaitedNs();
            try
            {
                await driver.RunAsync(plan, (start, outcome) =>
                {
                    var end = time.GetTimestamp();
                    Latencies.Add(end - start);
                    if (Ends is not null)
                    {
                        var now = _runQueue?.WaitedNs();
                        Ends.Add((start, end, [.. steps!], now - waited));
                        waited = now;
                        steps!.Clear();
                    }
                    Outcomes[outcome] = Outcomes.GetValueOrDefault(outcome) + 1;
                    ended++;
                }, ct, steps).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Errors++;
                if (e is FilterRefusedException)
                    Refused++;
                LostMessages += plan.Messages.Length - ended;
                FirstError ??= $"{SessionDriver.Describe(plan)}: {e.GetType().Name}: {e.Message}";
            }
        }
    }
}
