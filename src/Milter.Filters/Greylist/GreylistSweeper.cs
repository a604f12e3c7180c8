using Microsoft.Extensions.Logging;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// Keeps the stores tidy off the SMTP path: every <see cref="FlushPeriod"/> it writes the cache's
/// deferred lifetime extensions, and every <see cref="SweepPeriod"/> it deletes expired rows in
/// batches of <see cref="BatchSize"/>, one short transaction each, until none is left. The host
/// runs <see cref="RunAsync"/> as a background service.
/// </summary>
public sealed class GreylistSweeper
{
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

    /// <summary>Rows per delete: small enough that the SMTP path never waits long behind one.</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary>Runs until cancelled; store failures are logged and retried next period, never thrown.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var lastSweep = _time.GetTimestamp();
        try
        {
            while (true)
            {
                await Task.Delay(FlushPeriod, _time, cancellationToken).ConfigureAwait(false);
                await FlushAsync(cancellationToken).ConfigureAwait(false);
                if (_time.GetElapsedTime(lastSweep) < SweepPeriod)
                    continue;
                lastSweep = _time.GetTimestamp();
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
        foreach (var store in _stores)
        {
            int swept;
            do
            {
                swept = await store.SweepAsync(_time.GetUtcNow(), BatchSize, cancellationToken).ConfigureAwait(false);
                total += swept;
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
