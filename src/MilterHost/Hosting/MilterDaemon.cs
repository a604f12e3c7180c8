using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Server;

namespace MilterHost.Hosting;

/// <summary>
/// The daemon's main loop: serves milter connections on the bound socket with the current
/// configuration, reloads on SIGHUP, and on SIGTERM/SIGINT stops accepting and lets sessions in
/// flight finish (bounded by <c>limits.shutdown_grace</c>).
/// </summary>
internal sealed class MilterDaemon : IDisposable
{
    private readonly Socket _listener;
    private readonly string? _unixSocketPath;
    private readonly ConfigHolder _config;
    private readonly Func<string, int, ActiveConfig> _reload;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly ISystemdNotifier? _systemd;
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private readonly MilterServer _server;

    /// <param name="reload">Loads and builds the next generation from a path; throws with the errors when the file is bad.</param>
    public MilterDaemon(Socket listener, string? unixSocketPath, ConfigHolder config, Func<string, int, ActiveConfig> reload,
        TimeProvider time, ILoggerFactory loggers, ISystemdNotifier? systemd)
    {
        _listener = listener;
        _unixSocketPath = unixSocketPath;
        _config = config;
        _reload = reload;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger("milterhost");
        _systemd = systemd;
        _server = new MilterServer(_listener, () => _config.Current.CreateHandler(), () => _config.Current.Server, _time, _loggers.CreateLogger<MilterServer>());
    }

    public MilterServer Server => _server;

    /// <summary>Serves until SIGTERM/SIGINT or <paramref name="cancellationToken"/>; returns when every session has ended.</summary>
    /// <param name="ready">Announces the start (the log line); called once the signals are ours, just before READY=1.</param>
    public async Task RunAsync(Action ready, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Set once the stop has been announced, so that "stopped" never reaches the log before "stopping".
        var announced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Terminate(PosixSignalContext context)
        {
            context.Cancel = true; // we stop in our own time: drain first
            if (stop.IsCancellationRequested)
                return;
            stop.Cancel();
            // Refuse new connections at once rather than let them queue in the kernel while we drain:
            // sendmail then answers per its F= flag (F=T: tempfail) instead of waiting.
            // Closed before the log line, so that "no new connections" is already true when it is read.
            _listener.Close();
            if (_unixSocketPath is not null)
            {
                try { File.Delete(_unixSocketPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
            HostLog.Stopping(_logger, _server.ActiveConnections);
            Notify("STOPPING=1\nSTATUS=stopping: letting sessions in flight finish");
            announced.TrySetResult();
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Terminate);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Terminate);
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true; // SIGHUP means reload, not exit
            _ = Task.Run(ReloadAsync, CancellationToken.None);
        });

        // Only now: whoever acts on the start (systemd, a reload after a deploy, tests) may send HUP or TERM at once.
        ready();
        Notify("READY=1\nSTATUS=" + Status());
        try
        {
            await _server.RunAsync(stop.Token).ConfigureAwait(false);
        }
        finally
        {
            _listener.Dispose();
            if (_unixSocketPath is not null)
            {
                try
                {
                    File.Delete(_unixSocketPath);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // After the privilege drop the socket's folder may belong to root; the next start
                    // finds the file dead and removes it.
                    HostLog.SocketNotRemoved(_logger, _unixSocketPath, e.Message);
                }
            }
            if (stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // Stopped by a signal: the handler may still be writing its line (the cancellation ran this on its thread).
                try { await announced.Task.WaitAsync(TimeSpan.FromSeconds(5), _time).ConfigureAwait(false); }
                catch (TimeoutException) { }
            }
            HostLog.Stopped(_logger);
        }
    }

    /// <summary>Parses and validates the file again; swaps only when it is good.</summary>
    public async Task ReloadAsync()
    {
        await _reloading.WaitAsync().ConfigureAwait(false);
        try
        {
            var current = _config.Current;
            try
            {
                var next = _reload(current.Path, current.Generation + 1);
                if (next.Options.Listen != current.Options.Listen)
                    HostLog.RestartNeeded(_logger, "listen", current.Options.Listen, next.Options.Listen);
                if (next.Options.Database != current.Options.Database)
                    HostLog.RestartNeeded(_logger, "database", current.Options.Database, next.Options.Database);
                if (next.Options.User != current.Options.User)
                    HostLog.RestartNeeded(_logger, "user", current.Options.User ?? "(none)", next.Options.User ?? "(none)");
                _config.Swap(next);
                HostLog.Reloaded(_logger, next.Path, next.Generation);
                Notify("STATUS=" + Status());
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

    private string Status() => $"serving milter connections (config generation {_config.Current.Generation})";

    private void Notify(string state)
    {
        if (_systemd is { IsEnabled: true })
            _systemd.Notify(new ServiceState(state));
    }

    public void Dispose() => _reloading.Dispose();
}
