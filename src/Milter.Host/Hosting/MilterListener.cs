using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Server;

namespace MilterHost.Hosting;

/// <summary>
/// Serves milter connections on the bound socket with the current policy generation. Started last,
/// so the first connection finds the stores open and the policy built; stopped first: on SIGTERM it
/// closes the socket at once and lets the sessions in flight finish within <c>limits.shutdown_grace</c>
/// (the host's shutdown timeout) before the stores close. Should the server stop accepting while
/// nobody asked it to (a fault), the daemon stops with status 1 rather than run on deaf: systemd's
/// Restart=on-failure then starts it again.
/// </summary>
internal sealed class MilterListener(ListeningSocket socket, PolicyGenerations policy, ISystemdNotifier notifier, TimeProvider time, ILoggerFactory loggers,
    IHostApplicationLifetime application)
    : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger = loggers.CreateLogger("milterhost");
    private MilterServer? _server;
    private Task? _serving;

    /// <summary>Milter connections open now.</summary>
    public int ActiveConnections => _server?.ActiveConnections ?? 0;

    /// <summary>The server stopped accepting before the daemon was asked to stop.</summary>
    public bool Failed { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _server = new MilterServer(socket.Socket, () => policy.Current.CreateHandler(), () => policy.Current.Server, time, loggers.CreateLogger<MilterServer>());
        _serving = Task.Run(() => _server.RunAsync(_stop.Token), CancellationToken.None);
        WhenEndedUnasked(_serving, _stop.Token, failure =>
        {
            Failed = true;
            HostLog.ListenerEnded(_logger, failure);
            application.StopApplication();
        });
        return Task.CompletedTask;
    }

    /// <summary>Calls <paramref name="ended"/> (with its exception, if it failed) when <paramref name="serving"/> ends while <paramref name="stopping"/> was not cancelled.</summary>
    internal static void WhenEndedUnasked(Task serving, CancellationToken stopping, Action<Exception?> ended) =>
        serving.ContinueWith(task =>
        {
            if (!stopping.IsCancellationRequested)
                ended(task.Exception?.GetBaseException());
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is null || _serving is null)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        // Closed before the log line, so that "no new connections" is already true when it is read.
        socket.Close();
        HostLog.Stopping(_logger, _server.ActiveConnections);
        PolicyGenerations.Notify(notifier, "STOPPING=1\nSTATUS=stopping: letting sessions in flight finish");
        // The server cuts off what is left after the grace itself; the stores must outlive every session.
        try
        {
            await _serving.ConfigureAwait(false);
        }
        catch (Exception) when (Failed)
        {
            // Logged when it ended.
        }
    }

    public void Dispose() => _stop.Dispose();
}
