using System.Net;
using Milter.Filters.Stores;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// What <c>logscan</c> takes from the config named by <c>--config</c>: the relay's trusted clients
/// (never banned), and a way to work with the dynamic ban store: <see cref="WithBanStore"/> opens it,
/// hands it to the callback and closes it again (called only with <c>--apply</c>); run as root on
/// SQLite it first becomes the config's <c>user:</c>, for good.
/// </summary>
public sealed record LogScanEnvironment(
    IReadOnlyList<IPNetwork> AllowClients,
    Func<Func<IDynamicBanStore, Task>, CancellationToken, Task> WithBanStore)
{
    /// <summary>This host's addresses, never banned; the command fills it from the network interfaces.</summary>
    public IReadOnlySet<IPAddress> OwnAddresses { get; init; } = new HashSet<IPAddress>();

    /// <summary>Why the interface addresses could not be listed (<see cref="OwnAddresses"/> then holds none), or null.</summary>
    public string? OwnAddressesUnreadable { get; init; }

    /// <summary>Without <c>--log</c>, the first of these that exists is read; when none does, the journal.</summary>
    public IReadOnlyList<string> DefaultLogs { get; init; } = ["/var/log/maillog", "/var/log/mail.log"];

    /// <summary>Where <c>--apply</c> keeps its place between runs: <c>logscan.state</c> beside a SQLite database, else in the state folder.</summary>
    public string? StatePath { get; init; }

    /// <summary>The config's <c>logscan:</c> section: threshold, window and ban length where the command line gives none.</summary>
    public Milter.Filters.Configuration.LogScanSettings Settings { get; init; } = new();

    /// <summary>The journalctl <c>--journal</c> runs.</summary>
    public string Journalctl { get; init; } = "journalctl";
}
