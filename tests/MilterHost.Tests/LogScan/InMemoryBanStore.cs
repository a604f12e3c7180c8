using System.Net;
using Milter.Filters.Stores;

namespace MilterHost.Tests.LogScan;

/// <summary>The dynamic ban list contract in memory, for logscan's --apply tests.</summary>
internal sealed class InMemoryBanStore : IDynamicBanStore
{
    private readonly List<DynamicBan> _bans = [];

    public IReadOnlyList<DynamicBan> All => _bans;

    public Task<bool> AddAsync(DynamicBan ban, CancellationToken cancellationToken)
    {
        var index = _bans.FindIndex(b => b.Network.Equals(ban.Network));
        if (index < 0)
        {
            _bans.Add(ban);
            return Task.FromResult(true);
        }
        var existing = _bans[index];
        if (existing.Expires > ban.Created && existing.Expires >= ban.Expires)
            return Task.FromResult(false);
        _bans[index] = ban;
        return Task.FromResult(true);
    }

    public Task<bool> RemoveAsync(IPNetwork network, CancellationToken cancellationToken) =>
        Task.FromResult(_bans.RemoveAll(b => b.Network.Equals(network)) > 0);

    public Task<IReadOnlyList<DynamicBan>> ListAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<DynamicBan>>(_bans.Where(b => b.Expires > now).OrderByDescending(b => b.Created).ToList());

    public ValueTask<DynamicBan?> FindAsync(IPAddress address, DateTimeOffset now, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_bans.FirstOrDefault(b => b.Expires > now && b.Network.Contains(address)));
}
