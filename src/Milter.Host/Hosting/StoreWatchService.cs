using Microsoft.Extensions.Logging;
using Milter.Filters.Stores;

namespace MilterHost.Hosting;

/// <summary>Admin commands and other MX hosts write the same database: notices their changes within seconds.</summary>
internal sealed class StoreWatchService(StoreService stores, TimeProvider time, ILogger<StoreChangeWatcher> logger) : DaemonLoop
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        new StoreChangeWatcher(stores.Stores, time, logger).RunAsync(stoppingToken);
}
