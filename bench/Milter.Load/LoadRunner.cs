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
            var worker = workers[w] = new Worker(_time, KeepTimes, runQueue: KeepTimes && Threads, expected: Expected(messages, connections));
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

    // Each connection's share of a run's messages, with room for an uneven split.
    // (A run bounded by time alone asks for long.MaxValue messages.)
    private static int Expected(long messages, int connections) => (int)Math.Clamp(Math.Min(messages, 1_000_000) / connections * 2 + 16, 16, 4096);

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
    /// <param name="expected">How many messages this connection will likely end (room kept from the start).</param>
    public sealed class Worker(TimeProvider time, bool keepTimes, bool runQueue = false, int expected = 4096) : IDisposable
    {
        private readonly ThreadRunQueue? _runQueue = runQueue ? new ThreadRunQueue() : null;

        public List<long> Latencies { get; } = new(expected);
        /// <summary>
        /// Each message's start and end timestamps, where its replies' arrivals are in <see cref="Steps"/>,
        /// and (with a thread per connection) the ns its thread waited for a CPU since the previous message
        /// ended, when kept. Values in lists made once, not an object per message: what a run keeps would
        /// otherwise be promoted until it set off full collections of this process in the middle of the
        /// run, which stop every connection at once (bench/RESULTS.md, twentieth pass).
        /// </summary>
        public List<MessageTimes>? Ends { get; } = keepTimes ? new(expected) : null;
        /// <summary>Every reply's arrival (step, timestamp) of the messages in <see cref="Ends"/>, in order.</summary>
        public List<(string Step, long At)>? Steps { get; } = keepTimes ? new(expected * 10) : null;
        public Dictionary<string, long> Outcomes { get; } = new(StringComparer.Ordinal);
        public long Errors { get; private set; }
        public long Refused { get; private set; }
        public long LostMessages { get; private set; }
        public string? FirstError { get; private set; }

        public void Dispose() => _runQueue?.Dispose();

        public async Task RunAsync(SessionDriver driver, SessionPlan plan, CancellationToken ct)
        {
            var ended = 0;
            var firstStep = Steps?.Count ?? 0;
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
                        Ends.Add(new MessageTimes(start, end, firstStep, Steps!.Count - firstStep, now - waited));
                        waited = now;
                        firstStep = Steps.Count;
                    }
                    Outcomes[outcome] = Outcomes.GetValueOrDefault(outcome) + 1;
                    ended++;
                }, ct, Steps).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Errors++;
                if (e is FilterRefusedException)
                    Refused++;
                LostMessages += plan.Messages.Length - ended;
                FirstError ??= $"{SessionDriver.Describe(plan)}: {e.GetType().Name}: {e.Message}";
            }
            finally
            {
                // Replies of a message that did not end (a refusal, an error) belong to no line of the log.
                if (Steps is not null && Steps.Count > firstStep)
                    Steps.RemoveRange(firstStep, Steps.Count - firstStep);
            }
        }
    }
}

/// <summary>
/// One message of a latency log: start and end timestamps, its replies' arrivals as
/// <see cref="LoadRunner.Worker.Steps"/>[<paramref name="FirstStep"/>..+<paramref name="StepCount"/>],
/// and the ns its connection's thread waited for a CPU meanwhile, where known.
/// </summary>
public readonly record struct MessageTimes(long Start, long End, int FirstStep, int StepCount, long? WaitedNs);
