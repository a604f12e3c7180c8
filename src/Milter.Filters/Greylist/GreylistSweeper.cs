using Microsoft.Extensions.Logging;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// Keeps the stores tidy off the SMTP path: every <see cref="FlushPeriod"/> it writes the cache's
/// deferred lifetime extensions, and every <see cref="SweepPeriod"/> it deletes expired rows in
/// batches of at most <see cref="BatchSize"/>, each one short transaction (<see cref="MaxBatchTime"/>), until none is left. The host
/// runs <see cref="RunAsync"/> as a background service.
/// </summary>
public sealed class GreylistSweeper
{
    // Where the batch size starts: small, since the first batch is not timed yet.
    private const int FirstBatch = 16;

    private readonly IReadOnlyList<IExpiringStore> _stores;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public GreylistSweeper(IReadOnlyList<IExpiringStore> stores, TimeProvider time, ILogger<GreylistSweeper> logger)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _stores = stores;
        _time = time;
        _logger = logger;
    }

    public TimeSpan FlushPeriod { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan SweepPeriod { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A wall clock that ran this much ahead of the time that passed (a step forward, a wrong NTP
    /// answer) postpones the sweep once: swept against a clock a year ahead, every triplet, passed
    /// ones included, would be deleted for good, where the clock is usually stepped back within minutes.
    /// </summary>
    public TimeSpan ClockStepLimit { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Rows per delete at most: small enough that the SMTP path never waits long behind one.</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary>
    /// How long one delete may hold the database. Batches start small and double while they take
    /// less than half of this, halve when they take longer: on a big table (10 million rows: about
    /// 0.2 ms a row) 500 rows held SQLite's one connection for 25 ms, and every session behind it waited.
    /// </summary>
    public TimeSpan MaxBatchTime { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Runs until cancelled; store failures are logged and retried next period, never thrown.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var lastSweep = _time.GetTimestamp();
        var lastWall = _time.GetUtcNow();
        var postponed = false;
        try
        {
            while (true)
            {
                await Task.Delay(FlushPeriod, _time, cancellationToken).ConfigureAwait(false);
                await FlushAsync(cancellationToken).ConfigureAwait(false);
                var passed = _time.GetElapsedTime(lastSweep);
                if (passed < SweepPeriod)
                    continue;
                var jump = _time.GetUtcNow() - lastWall - passed;
                if (jump > ClockStepLimit && !postponed)
                {
                    postponed = true;
                    StoreLog.SweepPostponed(_logger, jump);
                    lastSweep = _time.GetTimestamp();
                    continue;
                }
                postponed = false;
                lastSweep = _time.GetTimestamp();
                lastWall = _time.GetUtcNow();
                try
                {
                    var rows = await SweepOnceAsync(cancellationToken).ConfigureAwait(false);
                    StoreLog.Swept(_logger, rows);
                }
                catch (StoreUnavailableException ex)
                {
                    StoreLog.SweepFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes every row expired by now, batch by batch, yielding between batches; returns how many.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        var batch = Math.Min(BatchSize, FirstBatch);
        foreach (var store in _stores)
        {
            int swept;
            do
            {
                var started = _time.GetTimestamp();
                swept = await store.SweepAsync(_time.GetUtcNow(), batch, cancellationToken).ConfigureAwait(false);
                var took = _time.GetElapsedTime(started);
                total += swept;
                if (took > MaxBatchTime)
                    batch = Math.Max(1, batch / 2);
                else if (took < MaxBatchTime / 2)
                    batch = Math.Min(BatchSize, batch * 2);
                await Task.Yield();
            }
            while (swept > 0);
        }
        return total;
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        foreach (var store in _stores)
            await store.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
