namespace MilterHost.Tools.LogScan;

/// <summary>
/// The bounds that keep a scan's memory flat however long the log: besides one <see cref="ClientActivity"/>
/// per offending IP (about 150 bytes each), the scan holds at most these many correlation entries, about
/// 200 bytes each, so 100,000 + 100,000 entries stay near 40 MB.
/// </summary>
public sealed record ScanLimits
{
    /// <summary>Queue ids remembered for milter refusals logged before or after their <c>from=</c> line; sendmail logs both within seconds.</summary>
    public int QueueIds { get; init; } = 100_000;

    /// <summary>sendmail pids remembered with the client of their <c>connect from</c> line; one per open SMTP session.</summary>
    public int Pids { get; init; } = 100_000;

    /// <summary>Longer lines are counted as unrecognised and skipped; sendmail's own lines stay under 2 KiB.</summary>
    public int MaxLineLength { get; init; } = 16 * 1024;

    /// <summary>Refused addresses remembered per queue id, to count a refusal both sendmail and milterhost logged once.</summary>
    public int FingerprintsPerQueueId { get; init; } = 256;
}
