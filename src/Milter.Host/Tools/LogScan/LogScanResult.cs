namespace MilterHost.Tools.LogScan;

/// <summary>What a scan found: per-client activity inside the window and how the lines were read.</summary>
public sealed record LogScanResult
{
    public required IReadOnlyList<ClientActivity> Clients { get; init; }

    /// <summary>Lines read, from all files.</summary>
    public long Lines { get; init; }

    /// <summary>Lines that are not syslog lines at all (garbage, truncated, overlong), skipped.</summary>
    public long Unrecognised { get; init; }

    /// <summary>Abuse events inside the window, attributed or not.</summary>
    public long Events { get; init; }

    /// <summary>Abuse events before the window's start.</summary>
    public long OutsideWindow { get; init; }

    /// <summary>Events whose client could not be found (no <c>from=</c>/connect line, local submissions, evicted).</summary>
    public long Unattributed { get; init; }

    /// <summary>Refusals logged by both sendmail (<c>Milter: to=...</c>) and milterhost, counted once.</summary>
    public long Duplicates { get; init; }

    /// <summary>Refusal lines that could be read as naming more than one client, or none for sure: counted for nobody.</summary>
    public long Ambiguous { get; init; }

    /// <summary>Refusals in authenticated sessions (a user's typo, not abuse): counted for nobody.</summary>
    public long Authenticated { get; init; }
}
