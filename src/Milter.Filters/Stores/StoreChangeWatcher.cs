using Microsoft.Extensions.Logging;

namespace Milter.Filters.Stores;

/// <summary>
/// Runs in a daemon beside the sweeper: every <see cref="StoreOptions.ChangePoll"/> it asks the
/// database whether another process (<c>milterhost ban add</c>, <c>greylist allow|remove</c>,
/// <c>logscan --apply</c>, another MX host) changed what the daemon holds in memory, and re-reads
/// it (<see cref="MilterStores.RefreshChangedAsync"/>). So an admin command takes effect on the
/// connections that arrive a poll period later, without the SMTP path ever waiting for the database.
/// </summary>
public sealed class StoreChangeWatcher
{
    private readonly MilterStores _stores;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public StoreChangeWatcher(MilterStores stores, TimeProvider time, ILogger<StoreChangeWatcher> logger)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _stores = stores;
        _time = time;
        _logger = logger;
    }

    public TimeSpan Period { get; init; } = new StoreOptions().ChangePoll;

    /// <summary>Runs until cancelled; a failed poll is logged once per outage and tried again next period.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var failing = false;
        try
        {
            while (true)
            {
                try
                {
                    var changed = await _stores.RefreshChangedAsync(cancellationToken).ConfigureAwait(false);
                    if (changed.Count > 0)
                        StoreLog.ChangesReloaded(_logger, string.Join(", ", changed));
                    if (failing)
                        StoreLog.ChangePollRecovered(_logger);
                    failing = false;
                }
                catch (StoreUnavailableException ex)
                {
                    if (!failing)
                        StoreLog.ChangePollFailed(_logger, ex);
                    failing = true;
                }
                await Task.Delay(Period, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException)
        {
            // The stores closed under us at shutdown.
        }
    }
}
