using Microsoft.Extensions.Logging;
using Milter.Filters.Greylist;

namespace MilterHost.Hosting;

/// <summary>Flushes deferred greylist writes and deletes expired rows in the background (<see cref="GreylistSweeper"/>).</summary>
internal sealed class GreylistSweepService(StoreService stores, TimeProvider time, ILogger<GreylistSweeper> logger) : DaemonLoop
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await new GreylistSweeper(stores.Stores.Expiring, time, logger).RunAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
