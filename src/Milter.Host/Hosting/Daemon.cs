using System.CommandLine;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Milter.Filters.Stores;
using MilterHost.Chain;
using MilterHost.Configuration;
using MilterHost.Listening;
using MilterHost.Logging;
using MilterHost.Privileges;
using MilterHost.Status;
using NLog.Extensions.Logging;

namespace MilterHost.Hosting;

/// <summary>
/// <c>milterhost run</c> once the configuration is known to be good: a Generic Host whose hosted
/// services start in this order — bind the socket and drop privileges, open the stores, the bypass-ban
/// writes, build the policy, the background jobs, the status page, and last the milter listener — and stop in the
/// reverse order, so the listener drains before the stores close. Constructors open nothing; every
/// file is opened in a StartAsync, after the drop.
/// </summary>
internal static class Daemon
{
    public static async Task<int> RunAsync(LoadedConfig config, MilterHostSetup setup, ParseResult parseResult, CancellationToken cancellationToken)
    {
        UseSocketEngineSettings();
        PrivilegeDropper.KeepFilesPrivate();
        var stderr = parseResult.InvocationConfiguration.Error;
        var options = config.Options;
        var interactive = !Console.IsErrorRedirected || (!options.Log.Syslog && options.Log.File is null);
        try
        {
            using var host = Build(config, setup, interactive);
            try
            {
                await host.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ListenerException or PrivilegeException or StoreUnavailableException or ArgumentException or FormatException or IOException or UnauthorizedAccessException)
            {
                // Stop what started (the socket file goes) before saying so.
                await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
                host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(LoggingSetup.StartupLogger).LogCritical("not starting: {Reason}", e.Message);
                await stderr.WriteLineAsync($"milterhost: not starting: {e.Message}").ConfigureAwait(false);
                return 1;
            }
            catch (OperationCanceledException) when (host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested)
            {
                // SIGTERM while a service was starting (systemctl stop, or systemd's start timeout, while
                // the stores open: a migration, an unreachable PostgreSQL). The host's start token is the
                // stop signal, so the start ends in this exception; asked to stop, the daemon stops cleanly:
                // what started stops (the socket file goes), one line says so, and the status is 0.
                await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
                HostLog.StoppedWhileStarting(host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("milterhost"));
                return 0;
            }
            await host.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            HostLog.Stopped(host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("milterhost"));
            return host.Services.GetRequiredService<MilterListener>().Failed ? 1 : 0;
        }
        finally
        {
            NLog.LogManager.Shutdown();
        }
    }

    /// <summary>The host: no configuration files, no environment binding; the YAML file is the configuration.</summary>
    private static IHost Build(LoadedConfig config, MilterHostSetup setup, bool console)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var nlog = LoggingSetup.Build(config.Options.Log, console);
        // The host's own lines (starting, a failed start with its stack) repeat what ours say; NLog
        // decides what is written (its provider sets the logger factory's filters aside).
        nlog.LoggingRules.Insert(0, new NLog.Config.LoggingRule("Microsoft.Extensions.Hosting.*", NLog.LogLevel.Trace, NLog.LogLevel.Error,
            new NLog.Targets.NullTarget("hosting")) { Final = true });
        // The layouts (LoggingSetup) write the formatted message only: no event properties, message
        // templates or scopes are captured, which would cost a dictionary per decision line.
        builder.Logging.ClearProviders()
            .SetMinimumLevel(LogLevel.Trace)
            .AddNLog(nlog, new NLogProviderOptions { CaptureMessageTemplates = false, CaptureMessageProperties = false, IncludeScopes = false });
        var services = builder.Services;
        services.Configure<HostOptions>(o => o.ShutdownTimeout = config.Options.Limits.ShutdownGrace);
        services.AddSystemd();
        // AddSystemd provides the notifier only when systemd is our parent; NOTIFY_SOCKET set by any
        // supervisor (or a test) is honoured the same way.
        services.TryAddSingleton<ISystemdNotifier, SystemdNotifier>();
        services.AddSingleton<IHostLifetime, DaemonLifetime>();
        services.AddSingleton(config);
        services.AddSingleton(setup);
        setup.Configure(services);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new DaemonMetrics(Version));
        services.AddSingleton<RecentDecisions>();
        // Start order is registration order.
        AddStarted<ListeningSocket>(services);
        AddStarted<StoreService>(services);
        AddStarted<BypassBanWrites>(services);
        AddStarted<PolicyGenerations>(services);
        services.AddHostedService<GreylistSweepService>();
        services.AddHostedService<TallyFlushService>();
        services.AddHostedService<StoreWatchService>();
        services.AddHostedService(sp =>
        {
            var listener = sp.GetRequiredService<MilterListener>();
            return new QuietCollectionService(() => listener.ActiveConnections, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>());
        });
        AddStarted<StatusService>(services);
        AddStarted<MilterListener>(services);
        return builder.Build();
    }

    /// <summary>A hosted service other services also depend on: one instance for both.</summary>
    private static void AddStarted<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] T>(IServiceCollection services) where T : class, IHostedService
    {
        services.AddSingleton<T>();
        services.AddHostedService(sp => sp.GetRequiredService<T>());
    }

    /// <summary>The product version, as <c>--version</c> prints it.</summary>
    public static string Version =>
        typeof(Daemon).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    /// <summary>The runtime's variable for the socket engine's event threads (set by <see cref="UseSocketEngineSettings"/>).</summary>
    internal const string SocketThreadsVariable = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

    /// <summary>
    /// How the runtime's socket engine runs the sessions, read by it when the first socket operation
    /// starts, hence set before any; an administrator's own setting of either variable wins.
    /// <list type="bullet">
    /// <item>Inline completions: a session's code runs straight on the engine's event threads when its
    /// packet arrives, instead of being queued to the thread pool for every packet: about 40% less CPU
    /// per message (bench/RESULTS.md). Nothing on the session path may block there: the stores and
    /// account lookups move to the thread pool first. <c>0</c> turns it off.</item>
    /// <item>One event thread per two CPUs, at least one. With inline completions the runtime's default
    /// is one per CPU, as if the process had the machine to itself; a milter shares it with sendmail,
    /// whose SMTP sessions are the other half of every message, and more threads than that take CPUs
    /// from the MTA and bounce sessions between themselves (bench/RESULTS.md, eighth pass).</item>
    /// </list>
    /// </summary>
    private static void UseSocketEngineSettings()
    {
        DefaultTo("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        DefaultTo(SocketThreadsVariable, Math.Max(1, Environment.ProcessorCount / 2).ToString(CultureInfo.InvariantCulture));
    }

    private static void DefaultTo(string variable, string value)
    {
        if (Environment.GetEnvironmentVariable(variable) is null)
            Environment.SetEnvironmentVariable(variable, value);
    }
}
