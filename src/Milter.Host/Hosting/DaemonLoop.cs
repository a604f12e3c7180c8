using Microsoft.Extensions.Hosting;

namespace MilterHost.Hosting;

/// <summary>
/// A background job of the daemon (sweeper, tally flusher, change watcher). Unlike
/// <see cref="BackgroundService"/> it always waits for its loop to end when stopped, also after the
/// host's shutdown timeout: the loops end within a moment of cancellation, and the stores close
/// after them (a tally flush cut off would lose its counts).
/// </summary>
internal abstract class DaemonLoop : BackgroundService
{
    public override Task StopAsync(CancellationToken cancellationToken) => base.StopAsync(CancellationToken.None);
}
