using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Milter.Filters.Stores;
using MilterHost.Configuration;
using MilterHost.Status;

namespace MilterHost.Hosting;

/// <summary>
/// Opens the greylist, ban and tally stores when the host starts (after the privilege drop, so the
/// files are the daemon user's) and closes them when the host is disposed, after every service that
/// uses them has stopped.
/// </summary>
internal sealed class StoreService(LoadedConfig config, DaemonMetrics metrics, TimeProvider time, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private MilterStores? _stores;

    public MilterStores Stores => _stores ?? throw new InvalidOperationException("the stores open when the host starts");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _stores = await StoreFactory.OpenAsync(config.Options.Database, time, loggers, StoreOptions.Daemon, cancellationToken).ConfigureAwait(false);
        _stores.Observer = metrics;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_stores is not null)
            await _stores.DisposeAsync().ConfigureAwait(false);
    }
}
