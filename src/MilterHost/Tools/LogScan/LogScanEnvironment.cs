using System.Net;
using Milter.Filters.Stores;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// What <c>logscan</c> takes from the config named by <c>--config</c>: the relay's trusted clients
/// (never banned), and a way to work with the dynamic ban store: <see cref="WithBanStore"/> opens it,
/// hands it to the callback and closes it again (called only with <c>--apply</c>).
/// </summary>
public sealed record LogScanEnvironment(
    IReadOnlyList<IPNetwork> AllowClients,
    Func<Func<IDynamicBanStore, Task>, CancellationToken, Task> WithBanStore);
