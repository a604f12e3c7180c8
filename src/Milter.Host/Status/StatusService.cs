using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MilterHost.Configuration;
using MilterHost.Hosting;

namespace MilterHost.Status;

/// <summary>
/// Binds the metrics to the running daemon and, with <c>status:</c>, serves the status page,
/// <c>/metrics</c> and <c>/api/summary</c> until the host stops.
/// </summary>
internal sealed class StatusService(
    LoadedConfig config, StoreService stores, PolicyGenerations policy, MilterListener listener, DaemonMetrics metrics, RecentDecisions recent,
    TimeProvider time, ILoggerFactory loggers) : IHostedService
{
    private StatusServer? _server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var sources = new StatusSources(stores.Stores, () => policy.Current.Options, () => policy.Current.Generation, () => listener.ActiveConnections,
            metrics, recent, time, Daemon.Version);
        metrics.Bind(sources);
        if (config.Options.Status is not { } options)
            return;
        var endpoint = StatusServer.ParseEndpoint(options.Listen);
        _server = await StatusServer.StartAsync(endpoint, options.Token, sources, loggers, cancellationToken).ConfigureAwait(false);
        StatusLog.Listening(loggers.CreateLogger("milterhost"), endpoint.ToString(), options.Token is null ? "no token" : "bearer token required");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
            await _server.DisposeAsync().ConfigureAwait(false);
        _server = null;
    }
}
