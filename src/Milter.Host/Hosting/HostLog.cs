using Microsoft.Extensions.Logging;

namespace MilterHost.Hosting;

/// <summary>The daemon's own log lines (event ids in HostEventId): start, reload, stop. Each once per event.</summary>
internal static partial class HostLog
{
    [LoggerMessage(HostEventId.Started, LogLevel.Information, "milterhost {Version} started: listening on {Listen}, config {ConfigPath} (generation {Generation}), database {Database}; {Privileges}")]
    public static partial void Started(ILogger logger, string version, string listen, string configPath, int generation, string database, string privileges);

    /// <summary>The runtime settings the daemon's memory and CPU depend on, as the runtime took them (see <see cref="RuntimeSettings"/>).</summary>
    [LoggerMessage(HostEventId.Runtime, LogLevel.Debug, "runtime: {Settings}")]
    public static partial void Runtime(ILogger logger, string settings);

    /// <summary>A collection once the daemon went quiet after a burst (<see cref="QuietCollection"/>).</summary>
    [LoggerMessage(HostEventId.QuietCollected, LogLevel.Debug,
        "memory: no mail for {Quiet} s after a burst; collected: resident {Before:F1} -> {After:F1} MB, managed heap {Heap:F1} MB, paused {Paused:F1} ms")]
    public static partial void QuietCollected(ILogger logger, int quiet, double before, double after, double heap, double paused);

    /// <summary>The executable's start-up pages left the resident set (<see cref="Native.MappedFilePages"/>).</summary>
    [LoggerMessage(HostEventId.StartupPagesDropped, LogLevel.Debug,
        "memory: {Megabytes:F1} MB of the executable's pages that start-up read left the resident set (mapped again from the page cache if used)")]
    public static partial void StartupPagesDropped(ILogger logger, double megabytes);

    [LoggerMessage(HostEventId.Reloaded, LogLevel.Information, "configuration reloaded from {ConfigPath} (generation {Generation}); new connections use it")]
    public static partial void Reloaded(ILogger logger, string configPath, int generation);

    [LoggerMessage(HostEventId.ReloadFailed, LogLevel.Error, "configuration reload from {ConfigPath} failed; keeping generation {Generation}: {Error}")]
    public static partial void ReloadFailed(ILogger logger, string configPath, int generation, string error);

    [LoggerMessage(HostEventId.Stopping, LogLevel.Information, "stopping: no new connections; {Active} session(s) in flight may finish")]
    public static partial void Stopping(ILogger logger, int active);

    [LoggerMessage(HostEventId.Stopped, LogLevel.Information, "stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(HostEventId.StoppedWhileStarting, LogLevel.Information, "stopped while starting: asked to stop before the start was complete")]
    public static partial void StoppedWhileStarting(ILogger logger);

    [LoggerMessage(HostEventId.RestartNeeded, LogLevel.Warning, "reload: {Setting} changed from {Old} to {New}; it takes effect only after a restart")]
    public static partial void RestartNeeded(ILogger logger, string setting, string old, string @new);

    [LoggerMessage(HostEventId.SocketNotRemoved, LogLevel.Warning, "could not remove the socket file {Path}: {Reason}; the next start replaces it")]
    public static partial void SocketNotRemoved(ILogger logger, string path, string reason);

    /// <summary>A line of <see cref="Configuration.ConfigWarnings"/>, as check-config prints it.</summary>
    [LoggerMessage(HostEventId.ListenerEnded, LogLevel.Critical, "milter listener: stopped accepting connections unexpectedly; the daemon exits (status 1) so that its supervisor starts it again")]
    public static partial void ListenerEnded(ILogger logger, Exception? exception);

    [LoggerMessage(HostEventId.ConfigWarning, LogLevel.Warning, "{Warning}")]
    public static partial void ConfigWarning(ILogger logger, string warning);
}
