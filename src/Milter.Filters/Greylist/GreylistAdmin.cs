using Milter.Filters.Configuration;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The greylist's admin queries: listings and counts (after the deferrals answered so far are
/// written, so they show), the admin allow list, removals (which also leave this process's cache)
/// and the purge.
/// </summary>
public sealed class GreylistAdmin : IGreylistAdmin
{
    // Rows deleted per transaction by a removal.
    private const int RemoveBatch = 500;

    // Rows per table and transaction of a purge.
    private const int PurgeBatch = 1000;

    private readonly StoreDatabase _database;
    private readonly GreylistAllowList _allow;
    private readonly PassCache _passes;
    private readonly DeferralQueue _deferrals;
    private readonly IReadOnlyList<IExpiringStore> _purged;

    /// <param name="purged">What <see cref="PurgeAsync"/> sweeps until nothing expired is left.</param>
    internal GreylistAdmin(StoreDatabase database, GreylistAllowList allow, PassCache passes, DeferralQueue deferrals, IReadOnlyList<IExpiringStore> purged)
    {
        _database = database;
        _allow = allow;
        _passes = passes;
        _deferrals = deferrals;
        _purged = purged;
    }

    public async Task<IReadOnlyList<TripletEntry>> ListTripletsAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (sql, parameters) = GreylistQuerySql.Triplets(query, now);
        await _deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync(async (session, ct) => (IReadOnlyList<TripletEntry>)await session.QueryAsync(sql, parameters, GreylistRows.ReadTriplet,
            entry => GreylistQuerySql.MatchesClient(query, entry.Triplet.Client), query.Limit, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<AutoWhitelistEntry>> ListAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (sql, parameters) = GreylistQuerySql.AutoWhitelist(query, now);
        await _deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync(async (session, ct) => (IReadOnlyList<AutoWhitelistEntry>)await session.QueryAsync(sql, parameters,
            GreylistRows.ReadAutoWhitelist, entry => GreylistQuerySql.MatchesClient(query, entry.Client), query.Limit, ct).ConfigureAwait(false),
            cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<GreylistAllowEntry>> ListAllowedAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        _database.RunAsync(async (session, ct) =>
            (IReadOnlyList<GreylistAllowEntry>)await session.QueryAsync(StoreSql.ListAllow, GreylistRows.ReadAllow, ct, ("@now", now.ToUnixTimeSeconds()))
                .ConfigureAwait(false),
            cancellationToken);

    public async Task<GreylistStats> StatsAsync(DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var seconds = now.ToUnixTimeSeconds();
        await _deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync(async (session, ct) =>
        {
            var states = await session.QueryAsync(StoreSql.CountTriplets,
                static r => (State: StoreSession.Int64(r, 0), N: StoreSession.Int64(r, 1)), ct, ("@now", seconds)).ConfigureAwait(false);
            var awl = (await session.QueryAsync(StoreSql.CountAwl, static r => (Entries: StoreSession.Int64(r, 0), Whitelisted: StoreSession.Int64(r, 1)), ct,
                ("@now", seconds), ("@passes", (long)Math.Max(1, options.AutoWhitelist.After))).ConfigureAwait(false)).Single();
            var allowed = (await session.QueryAsync(StoreSql.ListAllow, GreylistRows.ReadAllow, ct, ("@now", seconds)).ConfigureAwait(false)).Count;
            var expired = await session.ScalarAsync(StoreSql.CountExpired, ct, ("@now", seconds)).ConfigureAwait(false);
            return new GreylistStats(
                states.Where(s => s.State == (long)TripletState.Pending).Sum(s => s.N),
                states.Where(s => s.State == (long)TripletState.Passed).Sum(s => s.N),
                awl.Entries,
                options.AutoWhitelist.After > 0 ? awl.Whitelisted : 0,
                allowed,
                expired);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<PendingClient>> TopPendingClientsAsync(int limit, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await _deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync(async (session, ct) => (IReadOnlyList<PendingClient>)await session.QueryAsync(StoreSql.TopPendingClients,
            static r => new PendingClient(StoreSession.Text(r, 0), StoreSession.Int64(r, 1), GreylistRows.Time(StoreSession.Int64(r, 2))), ct,
            ("@now", now.ToUnixTimeSeconds()), ("@state", (long)TripletState.Pending), ("@limit", (long)limit)).ConfigureAwait(false),
            cancellationToken).ConfigureAwait(false);
    }

    public async Task AllowAsync(GreylistAllowEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await _database.WriteAsync(async (session, ct) =>
        {
            await session.ExecuteAsync(StoreSql.UpsertAllow, ct,
                ("@kind", (long)entry.Kind),
                ("@value", entry.Value),
                ("@reason", entry.Reason),
                ("@created", entry.Created.ToUnixTimeSeconds()),
                ("@expires", entry.Expires?.ToUnixTimeSeconds())).ConfigureAwait(false);
            return await StoreGenerations.BumpAsync(session, StoreGenerations.Allow, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        await _allow.ReloadAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> DisallowAsync(GreylistAllowKind kind, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(value);
        var removed = await _database.WriteAsync(async (session, ct) =>
        {
            var rows = await session.ExecuteAsync(StoreSql.DeleteAllow, ct, ("@kind", (long)kind), ("@value", value)).ConfigureAwait(false);
            if (rows > 0)
                await StoreGenerations.BumpAsync(session, StoreGenerations.Allow, ct).ConfigureAwait(false);
            return rows;
        }, cancellationToken).ConfigureAwait(false);
        await _allow.ReloadAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    public async Task<int> RemoveTripletsAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var victims = await ListTripletsAsync(query with { Limit = int.MaxValue }, now, cancellationToken).ConfigureAwait(false);
        await RemoveAsync(victims, (session, entry, ct) => session.ExecuteAsync(StoreSql.DeleteTripletByKey, ct, ("@client", entry.Triplet.Client),
            ("@sender", entry.Triplet.Sender), ("@recipient", entry.Triplet.Recipient)), entry => _passes.RemoveTriplet(entry.Triplet), cancellationToken)
            .ConfigureAwait(false);
        return victims.Count;
    }

    public async Task<int> RemoveAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var victims = await ListAutoWhitelistAsync(query with { Limit = int.MaxValue }, now, cancellationToken).ConfigureAwait(false);
        await RemoveAsync(victims, (session, entry, ct) => session.ExecuteAsync(StoreSql.DeleteAwlByKey, ct,
            ("@client", entry.Client), ("@sender_domain", entry.SenderDomain)), entry => _passes.RemoveAutoWhitelist(entry.Client, entry.SenderDomain),
            cancellationToken).ConfigureAwait(false);
        return victims.Count;
    }

    // Deletes in batches, each bumping the greylist change counter (so other processes forget their cached passes), then forgets each here.
    private async Task RemoveAsync<T>(IReadOnlyList<T> victims, Func<StoreSession, T, CancellationToken, Task<int>> delete, Action<T> forget,
        CancellationToken cancellationToken)
    {
        foreach (var chunk in victims.Chunk(RemoveBatch))
        {
            await _database.WriteAsync(async (session, ct) =>
            {
                foreach (var entry in chunk)
                    await delete(session, entry, ct).ConfigureAwait(false);
                await StoreGenerations.BumpAsync(session, StoreGenerations.Greylist, ct).ConfigureAwait(false);
                return chunk.Length;
            }, cancellationToken).ConfigureAwait(false);
            foreach (var entry in chunk)
                forget(entry);
        }
    }

    public async Task<int> PurgeAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var total = 0;
        foreach (var store in _purged)
        {
            int swept;
            do
            {
                swept = await store.SweepAsync(now, PurgeBatch, cancellationToken).ConfigureAwait(false);
                total += swept;
            }
            while (swept > 0);
        }
        return total;
    }
}
