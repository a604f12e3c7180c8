namespace MilterHost.Tools.LogScan;

/// <summary>A client at or over the threshold, not exempt: to be banned.</summary>
public sealed record Offender(ClientActivity Activity)
{
    /// <summary>The ban reason: <c>logscan: 12 events (relay-denied, user-unknown)</c>.</summary>
    public string Reason =>
        $"logscan: {Activity.Count} events ({string.Join(", ", Activity.Kinds.Select(k => k.Key.Name()))})";
}

/// <summary>A client at or over the threshold that is never banned, and why.</summary>
public sealed record ExemptClient(ClientActivity Activity, string Why);

/// <summary>The outcome of a scan: the offenders, who was spared, and how the files read.</summary>
public sealed record LogScanReport
{
    public required LogScanResult Scan { get; init; }

    public required DateTimeOffset Now { get; init; }

    /// <summary>Start of the window; null when the whole log counted.</summary>
    public DateTimeOffset? Since { get; init; }

    public required int Threshold { get; init; }

    /// <summary>Most events first.</summary>
    public required IReadOnlyList<Offender> Offenders { get; init; }

    public required IReadOnlyList<ExemptClient> Exempt { get; init; }

    public required IReadOnlyList<string> Files { get; init; }

    /// <summary>Files that could not be read, with the reason; the others were scanned.</summary>
    public required IReadOnlyList<string> FileErrors { get; init; }

    /// <summary>What a source said while it was read fine (journalctl's hints).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Where this run stopped, to be saved once its bans are applied; null when no state is kept.</summary>
    public LogScanState? State { get; init; }
}
