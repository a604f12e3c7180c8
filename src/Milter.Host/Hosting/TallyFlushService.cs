namespace MilterHost.Hosting;

/// <summary>Writes the decision tally to the database every few seconds, and once more when stopped.</summary>
internal sealed class TallyFlushService(StoreService stores) : DaemonLoop
{
    /// <summary>How often the decision tally is written to the database.</summary>
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(5);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => stores.Stores.Tally.RunAsync(Period, stoppingToken);
}
