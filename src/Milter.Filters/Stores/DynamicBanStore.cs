using System.Net;
using Dapper;
using Microsoft.Extensions.Logging;

namespace Milter.Filters.Stores;

/// <summary>
/// The dynamic ban list in the shared database (SQLite or PostgreSQL). <see cref="FindAsync"/> answers from a copy in memory.
/// Local writes are seen at once; bans written elsewhere (another MX host, <c>milterhost ban add</c>,
/// <c>logscan --apply</c>) bump a change counter that a running daemon's <see cref="StoreChangeWatcher"/>
/// polls every <see cref="StoreOptions.ChangePoll"/>, and the copy is also re-read every
/// <see cref="StoreOptions.SnapshotRefresh"/> in any case.
/// </summary>
public sealed class DynamicBanStore : IDynamicBanStore, IExpiringStore
{
    private readonly StoreDatabase _database;
    private readonly ILogger _logger;
    private readonly RefreshingSnapshot<BanIndex> _snapshot;

    internal DynamicBanStore(StoreDatabase database, TimeProvider time, StoreOptions options, ILogger<DynamicBanStore> logger)
    {
        _database = database;
        _logger = logger;
        _snapshot = new RefreshingSnapshot<BanIndex>(LoadIndexAsync, time, options.SnapshotRefresh, logger, "dynamic ban list");
    }

    public async Task<bool> AddAsync(DynamicBan ban, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ban);
        if (ban.Expires <= ban.Created)
            throw new ArgumentException($"ban of {ban.Network} expires ({ban.Expires:u}) before it starts ({ban.Created:u})", nameof(ban));
        var network = IPNetworks.Normalize(ban.Network).ToString();
        var changed = await _database.WriteAsync(async (session, ct) =>
        {
            var rows = await session.Connection.ExecuteAsync(StoreSql.UpsertBan, new BanWrite(network, ban.Reason,
                ban.Source.ToString().ToLowerInvariant(), ban.Created.ToUnixTimeSeconds(), ban.Expires.ToUnixTimeSeconds(), ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            if (rows > 0)
                await StoreGenerations.BumpAsync(session, StoreGenerations.Bans, ct).ConfigureAwait(false);
            return rows;
        }, cancellationToken).ConfigureAwait(false);
        if (changed == 0)
            return false;
        StoreLog.BanAdded(_logger, network, ban.Expires, ban.Source.ToString().ToLowerInvariant(), ban.Reason);
        await _snapshot.ReloadAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<bool> RemoveAsync(IPNetwork network, CancellationToken cancellationToken)
    {
        var text = IPNetworks.Normalize(network).ToString();
        var removed = await _database.WriteAsync(async (session, ct) =>
        {
            var rows = await session.Connection.ExecuteAsync(StoreSql.DeleteBan, new BanKey(text, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            if (rows > 0)
                await StoreGenerations.BumpAsync(session, StoreGenerations.Bans, ct).ConfigureAwait(false);
            return rows;
        }, cancellationToken).ConfigureAwait(false);
        if (removed == 0)
            return false;
        StoreLog.BanRemoved(_logger, text);
        await _snapshot.ReloadAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public Task<IReadOnlyList<DynamicBan>> ListAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        _database.ReadAsync(async (session, ct) =>
        {
            var rows = await session.Connection.QueryAsync<BanRow>(StoreSql.ListBans, new NowArgs(now.ToUnixTimeSeconds(), ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            return (IReadOnlyList<DynamicBan>)rows.Select(ToBan).ToList();
        }, cancellationToken);

    public async ValueTask<DynamicBan?> FindAsync(IPAddress address, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var index = await _snapshot.GetAsync(cancellationToken).ConfigureAwait(false);
        return index.Find(address, now);
    }

    /// <summary>Reads the list into memory again now (another process changed it).</summary>
    internal Task ReloadAsync(CancellationToken cancellationToken) => _snapshot.ReloadAsync(cancellationToken);

    public Task<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken cancellationToken) =>
        _database.WriteAsync((session, ct) => session.Connection.ExecuteAsync(
            StoreSql.SweepBans, new SweepArgs(now.ToUnixTimeSeconds(), batchSize, ct), commandTimeout: session.CommandTimeout), cancellationToken);

    private async Task<BanIndex> LoadIndexAsync(CancellationToken cancellationToken)
    {
        // Bans that expire before the next reload are kept; Find compares their expiry with the time of the lookup.
        var all = await ListAsync(DateTimeOffset.FromUnixTimeSeconds(0), cancellationToken).ConfigureAwait(false);
        return new BanIndex(all);
    }

    private static DynamicBan ToBan(BanRow row) => new(
        IPNetwork.Parse(row.Network),
        row.Reason,
        Enum.TryParse<BanSource>(row.Source, ignoreCase: true, out var source) ? source : BanSource.Admin,
        DateTimeOffset.FromUnixTimeSeconds(row.Created),
        DateTimeOffset.FromUnixTimeSeconds(row.Expires));
}
