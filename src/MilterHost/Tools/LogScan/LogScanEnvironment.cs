using System.Net;
using Milter.Filters.Stores;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// What <c>logscan</c> takes from the config named by <c>--config</c>: the relay's trusted clients
/// (never banned) and a way to open the dynamic ban store (called only with <c>--apply</c>; a store
/// that is <see cref="IAsyncDisposable"/> or <see cref="IDisposable"/> is disposed after use).
/// </summary>
public sealed record LogScanEnvironment(
    IReadOnlyList<IPNetwork> AllowClients,
    Func<CancellationToken, Task<IDynamicBanStore>> OpenBanStore);
