using System.CommandLine;
using System.Reflection;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Milter.Filters.Stores;
using MilterHost.Configuration;
using MilterHost.Listening;
using MilterHost.Logging;
using MilterHost.Native;
using MilterHost.Privileges;
using MilterHost.Status;
using Milter.Filters.Configuration;
using NLog.Extensions.Logging;

namespace MilterHost.Hosting;

/// <summary>
/// <c>milterhost run</c> once the configuration is known to be good: logging, the listening socket
/// (bound as whoever started us), the privilege drop, the stores, the filter chain, and the loop
/// that serves until SIGTERM.
/// </summary>
internal static class Daemon
{
    public static async Task<int> RunAsync(LoadedConfig config, ParseResult parseResult, CancellationToken cancellationToken)
    {
        UseInlineSocketCompletions();
        var stderr = parseResult.InvocationConfiguration.Error;
        var options = config.Options;
        var time = TimeProvider.System;
        var interactive = !Console.IsErrorRedirected || (!options.Log.Syslog && options.Log.File is null);
        var nlog = LoggingSetup.Build(options.Log, console: interactive);
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddNLog(nlog));
        var logger = loggers.CreateLogger("milterhost");
        try
        {
            foreach (var warning in ConfigWarnings.Of(config))
                HostLog.ConfigWarning(logger, warning);
            var listen = config.Listen;
            if (listen.Family == ListenFamily.Unix)
                PrepareDirectory(listen.Path!, options.User);
            using var listener = listen.Family == ListenFamily.Unix
                ? ListenerBinder.BindUnix(listen.Path!, options.Socket.Mode, options.Socket.Group)
                : ListenerBinder.BindTcp(ListenerBinder.ResolveHost(listen.Host!,
                    listen.Family == ListenFamily.Inet ? System.Net.Sockets.AddressFamily.InterNetwork : System.Net.Sockets.AddressFamily.InterNetworkV6), listen.Port);
            var unixPath = listen.Family == ListenFamily.Unix ? listen.Path : null;
            string privileges;
            try
            {
                if (config.Database.Kind == DatabaseKind.Sqlite)
                    PrepareDirectory(config.Database.Target, options.User);
                privileges = PrivilegeDropper.Apply(options.User);
            }
            catch
            {
                if (unixPath is not null) File.Delete(unixPath);
                throw;
            }

            await using var stores = await StoreFactory.OpenAsync(options.Database, time, loggers, cancellationToken: cancellationToken).ConfigureAwait(false);
            var metrics = new DaemonMetrics(Version);
            stores.Observer = metrics;
            var recent = new RecentDecisions(time);
            var feed = new StatusFeed(stores.Tally, metrics, recent);
            var decisions = new CompositeDecisionSink(new DecisionLog(loggers.CreateLogger("milterhost.decision")), feed);
            var builder = new PolicyBuilder(stores, decisions, time, loggers);
            ActiveConfig Measured(ActiveConfig active) => active with { CreateHandler = () => new MeasuredHandler(active.CreateHandler(), feed, time) };
            var holder = new ConfigHolder(Measured(builder.Build(config, 1)));

            ActiveConfig Reload(string path, int generation)
            {
                var result = ConfigLoader.Load(path);
                if (!result.Success)
                    throw new InvalidOperationException(string.Join("; ", result.Errors.Select(e => e.ToString())));
                return Measured(builder.Build(result.Config!, generation));
            }

            using var sweepStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var sweeper = new Milter.Filters.Greylist.GreylistSweeper(stores.Expiring, time, loggers.CreateLogger<Milter.Filters.Greylist.GreylistSweeper>());
            var sweeping = sweeper.RunAsync(sweepStop.Token);
            var tallying = stores.Tally.RunAsync(TallyFlushPeriod, sweepStop.Token);
            // Admin commands and other MX hosts write the same database: notice their changes within seconds.
            var watching = new StoreChangeWatcher(stores, time, loggers.CreateLogger<StoreChangeWatcher>()).RunAsync(sweepStop.Token);

            var systemd = new SystemdNotifier();
            using var daemon = new MilterDaemon(listener, unixPath, holder, Reload, time, loggers, systemd);
            var sources = new StatusSources(stores, () => holder.Current.Options, () => holder.Current.Generation, () => daemon.Server.ActiveConnections,
                metrics, recent, time, Version);
            metrics.Bind(sources);
            StatusServer? status = null;
            try
            {
                if (options.Status is { } statusOptions)
                    status = await StartStatusAsync(statusOptions, sources, loggers, logger, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // Not starting after all: leave no dead socket file behind.
                if (unixPath is not null) File.Delete(unixPath);
                throw;
            }
            await using var stopStatus = status;
            await daemon.RunAsync(() => HostLog.Started(logger, Version, listen.ToString(), config.Path, 1, stores.Description, privileges), cancellationToken)
                .ConfigureAwait(false);
            await sweepStop.CancelAsync().ConfigureAwait(false);
            try { await sweeping.ConfigureAwait(false); } catch (OperationCanceledException) { }
            await tallying.ConfigureAwait(false);
            await watching.ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is ListenerException or PrivilegeException or StoreUnavailableException or ArgumentException or FormatException or IOException or UnauthorizedAccessException)
        {
            loggers.CreateLogger(LoggingSetup.StartupLogger).LogCritical("not starting: {Reason}", e.Message);
            await stderr.WriteLineAsync($"milterhost: not starting: {e.Message}").ConfigureAwait(false);
            return 1;
        }
        finally
        {
            NLog.LogManager.Shutdown();
        }
    }

    /// <summary>How often the decision tally is written to the database.</summary>
    private static readonly TimeSpan TallyFlushPeriod = TimeSpan.FromSeconds(5);

    private static async Task<StatusServer> StartStatusAsync(StatusOptions options, StatusSources sources, ILoggerFactory loggers, ILogger logger,
        CancellationToken cancellationToken)
    {
        var endpoint = StatusServer.ParseEndpoint(options.Listen);
        var server = await StatusServer.StartAsync(endpoint, options.Token, sources, loggers, cancellationToken).ConfigureAwait(false);
        StatusLog.Listening(logger, endpoint.ToString(), options.Token is null ? "no token" : "bearer token required");
        return server;
    }

    /// <summary>The product version, as <c>--version</c> prints it.</summary>
    public static string Version =>
        typeof(Daemon).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    /// <summary>
    /// Started as root for a file (the SQLite database, the Unix socket) in a folder that does not
    /// exist yet: create the folder for the user we are about to become, so that it can write the
    /// database there and remove its socket on exit after the drop.
    /// </summary>
    private static void PrepareDirectory(string file, string? user)
    {
        if (!PrivilegeDropper.IsRoot || user is null or "root")
            return;
        var dir = Path.GetDirectoryName(Path.GetFullPath(file));
        if (dir is null || Directory.Exists(dir))
            return;
        Directory.CreateDirectory(dir);
        var account = Posix.FindUser(user);
        if (account is not null)
            _ = Posix.Chown(dir, account.Uid, account.Gid);
    }

    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Runs a session's code straight on the socket engine's event threads when its packet arrives,
    /// instead of queueing it to the thread pool for every packet: about 40% less CPU per message
    /// (bench/RESULTS.md). Nothing on the session path may block there: the stores and account
    /// lookups move to the thread pool first. Read by the runtime when the first socket operation
    /// starts, hence set before any; an administrator's own setting (0 to turn it off) wins.
    /// </summary>
    private static void UseInlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
    }
}
