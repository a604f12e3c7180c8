using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using MilterHost.Chain;
using MilterHost.Configuration;
using MilterHost.Logging;
using MilterHost.Status;

namespace MilterHost.Hosting;

/// <summary>
/// The running policy: builds generation 1 from the checked configuration once the stores are open,
/// and on SIGHUP reads the file again and swaps in the next generation only when it is good (a
/// broken file is logged and the running generation stays). Readers take <see cref="Current"/> at
/// CONNECT.
/// </summary>
internal sealed class PolicyGenerations(
    LoadedConfig initial, StoreService stores, DaemonMetrics metrics, RecentDecisions recent, MilterHostSetup setup, IServiceProvider services, BypassBanWrites bypassBans,
    ISystemdNotifier notifier, TimeProvider time, ILoggerFactory loggers) : IHostedService, IDisposable
{
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private readonly ILogger _logger = loggers.CreateLogger("milterhost");
    private PolicyBuilder? _builder;
    private StatusFeed? _feed;
    private ActiveConfig? _current;

    public ActiveConfig Current => Volatile.Read(ref _current) ?? throw new InvalidOperationException("the policy is built when the host starts");

    /// <summary>Decisions for the status page and the metrics, as they are made.</summary>
    public StatusFeed Feed => _feed ?? throw new InvalidOperationException("the policy is built when the host starts");

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _feed = new StatusFeed(stores.Stores.Tally, metrics, recent);
        var decisions = new CompositeDecisionSink(new DecisionLog(loggers.CreateLogger("milterhost.decision")), _feed);
        _builder = new PolicyBuilder(stores.Stores, decisions, time, loggers, setup.Catalog, services, bypassBans.Pending);
        Volatile.Write(ref _current, Measured(_builder.Build(initial, 1)));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Parses and validates the file again; swaps only when it is good.</summary>
    public async Task ReloadAsync()
    {
        await _reloading.WaitAsync().ConfigureAwait(false);
        try
        {
            var current = Volatile.Read(ref _current);
            if (current is null || _builder is null)
                return; // not started yet: the start reads the file as it is now anyway
            try
            {
                var result = ConfigLoader.Load(current.Path, setup.Catalog);
                if (!result.Success)
                    throw new InvalidOperationException(string.Join("; ", result.Errors.Select(e => e.ToString())));
                var next = Measured(_builder.Build(result.Config!, current.Generation + 1));
                WarnOfRestartSettings(next.Options);
                Volatile.Write(ref _current, next);
                HostLog.Reloaded(_logger, next.Path, next.Generation);
                Notify(notifier, "STATUS=" + Status());
            }
            catch (Exception e)
            {
                HostLog.ReloadFailed(_logger, current.Path, current.Generation, e.Message);
            }
        }
        finally
        {
            _reloading.Release();
        }
    }

    /// <summary>
    /// The settings read once at start (the socket, the database, the user, the log, the status
    /// listener): a reload that changes them from what is running says they wait for a restart.
    /// Compared with the start's, not the last generation's: changed back, a setting needs nothing.
    /// </summary>
    private void WarnOfRestartSettings(DaemonOptions next)
    {
        var running = initial.Options;
        if (next.Listen != running.Listen)
            HostLog.RestartNeeded(_logger, "listen", running.Listen, next.Listen);
        if (next.Database != running.Database)
            HostLog.RestartNeeded(_logger, "database", running.Database, next.Database);
        if (next.User != running.User)
            HostLog.RestartNeeded(_logger, "user", running.User ?? "(none)", next.User ?? "(none)");
        if (next.Socket != running.Socket)
            HostLog.RestartNeeded(_logger, "socket", Describe(running.Socket), Describe(next.Socket));
        if (next.Log != running.Log)
            HostLog.RestartNeeded(_logger, "log", Describe(running.Log), Describe(next.Log));
        if (next.Status != running.Status)
            HostLog.RestartNeeded(_logger, "status", Describe(running.Status), Describe(next.Status));

        static string Describe(object? section) => section switch
        {
            SocketOptions socket => $"{{ mode: {socket.Mode}, group: {socket.Group ?? "(none)"} }}",
            LogOptions log => $"{{ level: {log.Level}, syslog: {(log.Syslog ? "true" : "false")}, file: {log.File ?? "(none)"} }}",
            // The token is a secret: whether there is one, not what it is.
            StatusOptions status => $"{{ listen: {status.Listen}, token: {(status.Token is null ? "(none)" : "********")} }}",
            _ => "(none)",
        };
    }

    /// <summary>The STATUS= line systemd shows while serving.</summary>
    public string Status() => $"serving milter connections (config generation {Current.Generation})";

    internal static void Notify(ISystemdNotifier notifier, string state)
    {
        if (notifier.IsEnabled)
            notifier.Notify(new ServiceState(state));
    }

    private ActiveConfig Measured(ActiveConfig active)
    {
        var feed = Feed;
        return active with { CreateHandler = () => new MeasuredHandler(active.CreateHandler(), feed, time) };
    }

    public void Dispose() => _reloading.Dispose();
}
