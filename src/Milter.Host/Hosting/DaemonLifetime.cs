using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using MilterHost.Configuration;

namespace MilterHost.Hosting;

/// <summary>
/// The host's lifetime for <c>milterhost run</c>: SIGTERM and SIGINT stop the host (which drains),
/// SIGHUP reloads the configuration, and once every hosted service has started (the socket accepts)
/// it logs the start line and tells systemd READY=1 with a STATUS line. It stands in for the
/// console and systemd lifetimes, which know nothing of SIGHUP or our STATUS lines; it notifies
/// through the same <see cref="ISystemdNotifier"/>, which sends whenever NOTIFY_SOCKET is set.
/// </summary>
internal sealed class DaemonLifetime(
    IHostApplicationLifetime application, LoadedConfig config, ListeningSocket socket, StoreService stores, PolicyGenerations policy,
    ISystemdNotifier notifier, ILoggerFactory loggers) : IHostLifetime, IDisposable
{
    private readonly ILogger _logger = loggers.CreateLogger("milterhost");
    private readonly List<IDisposable> _registrations = [];

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, Terminate));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, Terminate));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true; // SIGHUP means reload, not exit
            _ = Task.Run(policy.ReloadAsync, CancellationToken.None);
        }));
        // The signals are ours before anyone can hear of the start: systemd, a reload after a deploy,
        // or a test may send HUP or TERM at once.
        _registrations.Add(application.ApplicationStarted.Register(() =>
        {
            HostLog.Started(_logger, Daemon.Version, config.Listen.ToString(), config.Path, policy.Current.Generation, stores.Stores.Description, socket.Privileges);
            if (_logger.IsEnabled(LogLevel.Debug))
                HostLog.Runtime(_logger, RuntimeSettings.Describe());
            PolicyGenerations.Notify(notifier, "READY=1\nSTATUS=" + policy.Status());
            // Start-up is over: what it alone read of the executable need not stay resident.
            if (Environment.ProcessPath is { } executable && Native.MappedFilePages.Drop(executable) is { } dropped)
                HostLog.StartupPagesDropped(_logger, dropped / 1024.0);
        }));
        return Task.CompletedTask;
    }

    private void Terminate(PosixSignalContext context)
    {
        context.Cancel = true; // we stop in our own time: drain first
        application.StopApplication();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
    }
}
