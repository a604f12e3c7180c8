using Dapper;
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
        var (sql, args) = GreylistQuerySql.Triplets(query, now);
        await _deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync((session, ct) => TakeAsync(session.Connection.QueryUnbufferedAsync<TripletRow>(sql, args, commandTimeout: session.CommandTimeout), query,
            row => row.Client, row => row.ToEntry(), ct), cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<AutoWhitelistEntry>> ListAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (sql, args) = GreylistQuerySql.AutoWhitelist(query, now);
        await _deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync((session, ct) => TakeAsync(session.Connection.QueryUnbufferedAsync<AwlRow>(sql, args, commandTimeout: session.CommandTimeout), query,
            row => row.Client, row => row.ToEntry(), ct), cancellationToken).ConfigureAwait(false);
    }

    // Reads the rows as they come, keeping those in the query's client network, up to its limit (with a
    // client filter the SQL has no LIMIT); the rest of the result is not read.
    private static async Task<IReadOnlyList<T>> TakeAsync<TRow, T>(IAsyncEnumerable<TRow> rows, GreylistQuery query, Func<TRow, string> client,
        Func<TRow, T> entry, CancellationToken cancellationToken)
    {
        var entries = new List<T>();
        await foreach (var row in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (GreylistQuerySql.MatchesClient(query, client(row)))
                entries.Add(entry(row));
            if (entries.Count >= query.Limit)
                break;
        }
        return entries;
    }

    public Task<IReadOnlyList<GreylistAllowEntry>> ListAllowedAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        _database.RunAsync(async (session, ct) =>
            (IReadOnlyList<GreylistAllowEntry>)await GreylistRows.ListAllowAsync(session, now.ToUnixTimeSeconds(), ct).ConfigureAwait(false),
            cancellationToken);

    public async Task<GreylistStats> StatsAsync(DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var seconds = now.ToUnixTimeSeconds();
        await _deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync(async (session, ct) =>
        {
            var connection = session.Connection;
            var states = (await connection.QueryAsync<StateCountRow>(StoreSql.CountTriplets, new NowArgs(seconds, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false)).ToList();
            var awl = await connection.QuerySingleAsync<AwlCountRow>(StoreSql.CountAwl,
                new AwlCountArgs(seconds, Math.Max(1, options.AutoWhitelist.After), ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            var allowed = (await GreylistRows.ListAllowAsync(session, seconds, ct).ConfigureAwait(false)).Count;
            var expired = await connection.ExecuteScalarAsync<long>(StoreSql.CountExpired, new NowArgs(seconds, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
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
        return await _database.RunAsync(async (session, ct) =>
        {
            var rows = await session.Connection.QueryAsync<PendingClientRow>(StoreSql.TopPendingClients,
                new PendingClientsArgs(now.ToUnixTimeSeconds(), (long)TripletState.Pending, limit, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            return (IReadOnlyList<PendingClient>)[.. rows.Select(r => new PendingClient(r.Client, r.Pending, GreylistRows.Time(r.LastSeen)))];
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task AllowAsync(GreylistAllowEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await _database.WriteAsync(async (session, ct) =>
        {
            await session.Connection.ExecuteAsync(StoreSql.UpsertAllow, new AllowWrite((long)entry.Kind, entry.Value, entry.Reason,
                entry.Created.ToUnixTimeSeconds(), entry.Expires?.ToUnixTimeSeconds(), ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            return await StoreGenerations.BumpAsync(session, StoreGenerations.Allow, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        await _allow.ReloadAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> DisallowAsync(GreylistAllowKind kind, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(value);
        var removed = await _database.WriteAsync(async (session, ct) =>
        {
            var rows = await session.Connection.ExecuteAsync(StoreSql.DeleteAllow, new AllowKeyArgs((long)kind, value, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            if (rows > 0)
                await StoreGenerations.BumpAsync(session, StoreGenerations.Allow, ct).ConfigureAwait(false);
            return rows;
        }, cancellationToken).ConfigureAwait(false);
        await _allow.ReloadAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    public async Task<int> RemoveTripletsAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var listed = await ListTripletsAsync(query with { Limit = int.MaxValue }, now, cancellationToken).ConfigureAwait(false);
        // In key order, as the daemons write (DeferralQueue): deleted in the listing's order (last used
        // first), a removal and another MX host's batch of attempts on the same rows deadlocked on
        // PostgreSQL, and the victim's attempts were lost.
        var victims = listed.OrderBy(e => e.Triplet, Triplet.KeyOrder).ToList();
        await RemoveAsync(victims, (session, entry, ct) => session.Connection.ExecuteAsync(StoreSql.DeleteTripletByKey,
            new TripletKeyArgs(entry.Triplet.Client, entry.Triplet.Sender, entry.Triplet.Recipient, ct), commandTimeout: session.CommandTimeout), entry => _passes.RemoveTriplet(entry.Triplet),
            cancellationToken).ConfigureAwait(false);
        return victims.Count;
    }

    public async Task<int> RemoveAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var listed = await ListAutoWhitelistAsync(query with { Limit = int.MaxValue }, now, cancellationToken).ConfigureAwait(false);
        // In key order, as the lifetime extensions are written (PassCache.FlushAsync).
        var victims = listed.OrderBy(e => (e.Client, e.SenderDomain), Comparer<(string, string)>.Create(AutoWhitelistEntry.CompareKeys)).ToList();
        await RemoveAsync(victims, (session, entry, ct) => session.Connection.ExecuteAsync(StoreSql.DeleteAwlByKey,
            new AwlKeyArgs(entry.Client, entry.SenderDomain, ct), commandTimeout: session.CommandTimeout), entry => _passes.RemoveAutoWhitelist(entry.Client, entry.SenderDomain),
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
