using Microsoft.Extensions.Logging;
using MilterHost.Status;

namespace MilterHost.Hosting;

/// <summary>Gives the memory of a burst back once the daemon has gone quiet (<see cref="QuietCollection"/>).</summary>
/// <param name="openConnections">The milter connections open now.</param>
internal sealed class QuietCollectionService(Func<int> openConnections, TimeProvider time, ILoggerFactory loggers) : DaemonLoop
{
    private readonly ILogger _logger = loggers.CreateLogger("milterhost");
    private readonly QuietCollection _policy = new(time.GetUtcNow(), GC.GetTotalAllocatedBytes());

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(QuietCollection.Period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
                Look();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One look (every <see cref="QuietCollection.Period"/>): true when it collected.</summary>
    internal bool Look()
    {
        if (!_policy.ShouldCollect(time.GetUtcNow(), openConnections(), GC.GetTotalAllocatedBytes()))
            return false;
        var before = ProcStatus.Read().ResidentKb;
        var started = time.GetTimestamp();
        // Aggressive: compacts every generation and decommits what the heap no longer needs.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var paused = time.GetElapsedTime(started);
        var after = ProcStatus.Read().ResidentKb;
        HostLog.QuietCollected(_logger, (int)QuietCollection.Quiet.TotalSeconds, Megabytes(before), Megabytes(after),
            GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0, paused.TotalMilliseconds);
        return true;
    }

    private static double Megabytes(long? kilobytes) => (kilobytes ?? 0) / 1024.0;
}
