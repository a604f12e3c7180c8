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
}
