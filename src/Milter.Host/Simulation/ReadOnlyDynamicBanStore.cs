using System.Net;
using Milter.Filters.Stores;

namespace MilterHost.Simulation;

/// <summary>The dynamic ban list as <c>simulate</c> sees it without <c>--record</c>: read, never changed.</summary>
internal sealed class ReadOnlyDynamicBanStore(IDynamicBanStore inner) : IDynamicBanStore
{
    public Task<bool> AddAsync(DynamicBan ban, CancellationToken cancellationToken) => throw Refused();

    public Task<bool> RemoveAsync(IPNetwork network, CancellationToken cancellationToken) => throw Refused();

    public Task<IReadOnlyList<DynamicBan>> ListAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        inner.ListAsync(now, cancellationToken);

    public ValueTask<DynamicBan?> FindAsync(IPAddress address, DateTimeOffset now, CancellationToken cancellationToken) =>
        inner.FindAsync(address, now, cancellationToken);

    private static InvalidOperationException Refused() =>
        new("the store is read-only: simulate writes nothing without --record");
}
