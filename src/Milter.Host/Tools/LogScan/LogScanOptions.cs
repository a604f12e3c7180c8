using System.Net;

namespace MilterHost.Tools.LogScan;

/// <summary>What <c>milterhost logscan</c> reads and whom it may name an offender.</summary>
public sealed record LogScanOptions
{
    /// <summary>Files in the order given; rotated (<c>.1</c>) and gzip (<c>.gz</c>) files read as they are.</summary>
    public IReadOnlyList<string> Logs { get; init; } = ["/var/log/maillog"];

    /// <summary>Read sendmail's and milterhost's entries from the systemd journal too.</summary>
    public bool Journal { get; init; }

    /// <summary>The journalctl to run (a path, or a name looked up on PATH).</summary>
    public string Journalctl { get; init; } = "journalctl";

    /// <summary>Only events this recent count; null: the whole log.</summary>
    public TimeSpan? Since { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Events per IP inside the window that make it an offender.</summary>
    public int Threshold { get; init; } = 5;

    /// <summary>Networks never banned (<c>--ignore</c>).</summary>
    public IReadOnlyList<IPNetwork> Ignore { get; init; } = [];

    /// <summary>The config's <c>relay.allow_clients</c>: our own clients are never banned.</summary>
    public IReadOnlyList<IPNetwork> AllowClients { get; init; } = [];

    /// <summary>This host's own addresses (every interface's): never banned, whatever a log line says.</summary>
    public IReadOnlySet<IPAddress> OwnAddresses { get; init; } = new HashSet<IPAddress>();

    /// <summary>The zone classic syslog timestamps were written in (the logging host's).</summary>
    public TimeZoneInfo Zone { get; init; } = TimeZoneInfo.Local;

    public ScanLimits Limits { get; init; } = new();
}
