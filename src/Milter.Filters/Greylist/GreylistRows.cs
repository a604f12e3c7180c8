using Dapper;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The check path's statements: the read of a check, the locked read-decide-write of a triplet row
/// that both the durable first pass and the write-behind of deferrals use, and the lifetime
/// extensions; through Dapper.AOT. On SQLite their statements stay compiled per connection
/// (<see cref="PreparedCommandFactory{T}"/>).
/// </summary>
internal static class GreylistRows
{
    /// <summary>The triplet's row inside a write transaction, locked where the backend locks rows (<see cref="SqlDialect.LocksTripletForUpdate"/>).</summary>
    public static async Task<TripletEntry?> ReadTripletForUpdateAsync(StoreSession session, Triplet triplet, CancellationToken cancellationToken)
    {
        var key = new TripletKeyArgs(triplet.Client, triplet.Sender, triplet.Recipient, cancellationToken);
        var row = session.Dialect.LocksTripletForUpdate
            ? await session.Connection.QueryFirstOrDefaultAsync<TripletRow>(StoreSql.SelectTripletForUpdate, key, commandTimeout: session.CommandTimeout).ConfigureAwait(false)
            : await session.Connection.QueryFirstOrDefaultAsync<TripletRow>(StoreSql.SelectTriplet, key, commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        return row?.ToEntry();
    }

    /// <summary>A check's read: the auto-whitelist entry and the triplet's row, each null when absent.</summary>
    public static async Task<(AutoWhitelistEntry? Awl, TripletEntry? Entry)> ReadBothAsync(StoreSession session, Triplet triplet, CancellationToken cancellationToken)
    {
        var args = new TripletAndAwlArgs(triplet.Client, triplet.Sender, triplet.Recipient, triplet.SenderDomain, cancellationToken);
        var row = await session.Connection.QueryFirstOrDefaultAsync<TripletAndAwlRow>(StoreSql.SelectTripletAndAwl, args, commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        return row is null ? (null, null) : (row.AutoWhitelist(), row.Triplet());
    }

    public static async Task<AutoWhitelistEntry?> ReadAutoWhitelistAsync(StoreSession session, string client, string domain, CancellationToken cancellationToken)
    {
        var args = new AwlKeyArgs(client, domain, cancellationToken);
        var row = await session.Connection.QueryFirstOrDefaultAsync<AwlRow>(StoreSql.SelectAwl, args, commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        return row?.ToEntry();
    }

    /// <summary>Inserts a triplet row; 0 when another transaction inserted it first.</summary>
    public static Task<int> InsertTripletAsync(StoreSession session, TripletEntry entry, CancellationToken cancellationToken) =>
        session.Connection.ExecuteAsync(StoreSql.InsertTriplet, Write(entry, cancellationToken), commandTimeout: session.CommandTimeout);

    public static Task<int> UpdateTripletAsync(StoreSession session, TripletEntry entry, CancellationToken cancellationToken) =>
        session.Connection.ExecuteAsync(StoreSql.UpdateTriplet, Write(entry, cancellationToken), commandTimeout: session.CommandTimeout);

    /// <summary>Extends a live auto-whitelist entry to <paramref name="expires"/>, used at <paramref name="now"/>.</summary>
    public static Task<int> ExtendAutoWhitelistAsync(StoreSession session, string client, string senderDomain, long now, long expires,
        CancellationToken cancellationToken) =>
        session.Connection.ExecuteAsync(StoreSql.ExtendAwl, new AwlTouchArgs(client, senderDomain, now, expires, cancellationToken), commandTimeout: session.CommandTimeout);

    /// <summary>Counts a pass for (client, sender domain) (<see cref="StoreSql.CountPass"/>).</summary>
    public static Task<int> CountPassAsync(StoreSession session, string client, string senderDomain, long now, long expires,
        CancellationToken cancellationToken) =>
        session.Connection.ExecuteAsync(StoreSql.CountPass, new AwlTouchArgs(client, senderDomain, now, expires, cancellationToken), commandTimeout: session.CommandTimeout);

    /// <summary>Takes back a pass counted for (client, sender domain) (<see cref="StoreSql.UncountPass"/>).</summary>
    public static Task<int> UncountPassAsync(StoreSession session, string client, string senderDomain, CancellationToken cancellationToken) =>
        session.Connection.ExecuteAsync(StoreSql.UncountPass, new AwlKeyArgs(client, senderDomain, cancellationToken), commandTimeout: session.CommandTimeout);

    /// <summary>Extends a passed triplet's lifetime to <paramref name="expires"/>, used at <paramref name="now"/>.</summary>
    public static Task<int> TouchTripletAsync(StoreSession session, Triplet triplet, long now, long expires, CancellationToken cancellationToken)
    {
        var args = new TripletTouchArgs(triplet.Client, triplet.Sender, triplet.Recipient, now, expires, cancellationToken);
        return session.Connection.ExecuteAsync(StoreSql.TouchTriplet, args, commandTimeout: session.CommandTimeout);
    }

    /// <summary>
    /// Reads the triplet's row for update, asks <paramref name="decide"/> for the row to leave (null:
    /// leave it as it is) and writes it. A row absent at the read may be inserted by another MX host
    /// before our insert: then it is read (now locked) and decided again; a sweep could delete it in
    /// between, hence the loop. Returns the row as it was before.
    /// </summary>
    public static async Task<TripletEntry?> WriteDecidedAsync(StoreSession session, Triplet triplet,
        Func<TripletEntry?, TripletEntry?> decide, CancellationToken cancellationToken)
    {
        var entry = await ReadTripletForUpdateAsync(session, triplet, cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; ; attempt++)
        {
            if (decide(entry) is not { } row)
                return entry;
            if (entry is not null)
            {
                await UpdateTripletAsync(session, row, cancellationToken).ConfigureAwait(false);
                return entry;
            }
            if (await InsertTripletAsync(session, row, cancellationToken).ConfigureAwait(false) > 0 || attempt == 2)
                return entry;
            entry = await ReadTripletForUpdateAsync(session, triplet, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The admin allow list alive at <paramref name="now"/> (Unix seconds; 0: every entry).</summary>
    public static async Task<List<GreylistAllowEntry>> ListAllowAsync(StoreSession session, long now, CancellationToken cancellationToken)
    {
        var rows = await session.Connection.QueryAsync<AllowRow>(StoreSql.ListAllow, new NowArgs(now, cancellationToken), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        return [.. rows.Select(row => row.ToEntry())];
    }

    private static TripletWrite Write(TripletEntry entry, CancellationToken cancellationToken) => new(entry.Triplet.Client, entry.Triplet.Sender,
        entry.Triplet.Recipient, entry.Triplet.SenderDomain, (long)entry.State, entry.FirstSeen.ToUnixTimeSeconds(), entry.LastSeen.ToUnixTimeSeconds(),
        entry.Expires.ToUnixTimeSeconds(), entry.Deferrals, cancellationToken);

    public static DateTimeOffset Time(long unixSeconds) => DateTimeOffset.FromUnixTimeSeconds(unixSeconds);
}
