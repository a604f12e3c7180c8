using System.Net;
using Milter.Filters.Stores;

namespace Milter.Filters.Tests.Support;

/// <summary>
/// The dynamic ban list contract over a list in memory, for filter tests; the SQLite and
/// PostgreSQL stores have their own suite.
/// </summary>
public sealed class MemoryBanStore : IDynamicBanStore
{
    private readonly List<DynamicBan> _bans = [];

    public bool FailLookups { get; set; }

    public Task<bool> AddAsync(DynamicBan ban, CancellationToken cancellationToken)
    {
        _bans.Add(ban);
        return Task.FromResult(true);
    }

    public Task<bool> RemoveAsync(IPNetwork network, CancellationToken cancellationToken) =>
        Task.FromResult(_bans.RemoveAll(b => b.Network == network) > 0);

    public Task<IReadOnlyList<DynamicBan>> ListAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<DynamicBan>>([.. _bans.Where(b => b.Expires > now).OrderByDescending(b => b.Created)]);

    public ValueTask<DynamicBan?> FindAsync(IPAddress address, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (FailLookups)
            throw new IOException("database is locked");
        return ValueTask.FromResult(_bans.FirstOrDefault(b => b.Expires > now && b.Network.Contains(address)));
    }
}
