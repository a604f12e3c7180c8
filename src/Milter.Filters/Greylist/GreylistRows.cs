using System.Data.Common;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The greylist's rows in and out of the database: one triplet, one auto-whitelist entry, one allow
/// entry, and the locked read-decide-write of a triplet row that both the durable first pass and the
/// write-behind of deferrals use. Plain ADO on the hot path, so SQLite keeps the statements prepared.
/// </summary>
internal static class GreylistRows
{
    public static async Task<TripletEntry?> ReadTripletAsync(StoreSession session, string sql, Triplet triplet, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync(sql, [("@client", triplet.Client), ("@sender", triplet.Sender), ("@recipient", triplet.Recipient)],
            ReadTriplet, keep: null, 1, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>A check's read: the auto-whitelist entry and the triplet's row, each null when absent.</summary>
    public static async Task<(AutoWhitelistEntry? Awl, TripletEntry? Entry)> ReadBothAsync(StoreSession session, Triplet triplet, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync(StoreSql.SelectTripletAndAwl,
            [("@client", triplet.Client), ("@sender", triplet.Sender), ("@recipient", triplet.Recipient), ("@sender_domain", triplet.SenderDomain)],
            static reader => (
                reader.IsDBNull(8) ? null : ReadAutoWhitelist(reader, 8),
                reader.IsDBNull(0) ? null : ReadTriplet(reader)), keep: null, 1, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? (null, null) : rows[0];
    }

    public static async Task<AutoWhitelistEntry?> ReadAutoWhitelistAsync(StoreSession session, string client, string domain, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync(StoreSql.SelectAwl, [("@client", client), ("@sender_domain", domain)],
            ReadAutoWhitelist, keep: null, 1, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>Inserts (<see cref="StoreSql.InsertTriplet"/>) or updates (<see cref="StoreSql.UpdateTriplet"/>) a triplet row; returns the rows affected.</summary>
    public static Task<int> WriteTripletAsync(StoreSession session, string sql, TripletEntry entry, CancellationToken cancellationToken) =>
        session.ExecuteAsync(sql, cancellationToken,
            ("@client", entry.Triplet.Client), ("@sender", entry.Triplet.Sender), ("@recipient", entry.Triplet.Recipient),
            ("@sender_domain", entry.Triplet.SenderDomain), ("@state", (long)entry.State),
            ("@first_seen", entry.FirstSeen.ToUnixTimeSeconds()), ("@last_seen", entry.LastSeen.ToUnixTimeSeconds()),
            ("@expires", entry.Expires.ToUnixTimeSeconds()), ("@deferrals", (long)entry.Deferrals));

    /// <summary>
    /// Reads the triplet's row for update, asks <paramref name="decide"/> for the row to leave (null:
    /// leave it as it is) and writes it. A row absent at the read may be inserted by another MX host
    /// before our insert: then it is read (now locked) and decided again; a sweep could delete it in
    /// between, hence the loop. Returns the row as it was before.
    /// </summary>
    public static async Task<TripletEntry?> WriteDecidedAsync(StoreSession session, SqlDialect dialect, Triplet triplet,
        Func<TripletEntry?, TripletEntry?> decide, CancellationToken cancellationToken)
    {
        var selectForUpdate = dialect.SelectTripletForUpdate;
        var entry = await ReadTripletAsync(session, selectForUpdate, triplet, cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; ; attempt++)
        {
            if (decide(entry) is not { } row)
                return entry;
            if (entry is not null)
            {
                await WriteTripletAsync(session, StoreSql.UpdateTriplet, row, cancellationToken).ConfigureAwait(false);
                return entry;
            }
            if (await WriteTripletAsync(session, StoreSql.InsertTriplet, row, cancellationToken).ConfigureAwait(false) > 0 || attempt == 2)
                return entry;
            entry = await ReadTripletAsync(session, selectForUpdate, triplet, cancellationToken).ConfigureAwait(false);
        }
    }

    // The columns of StoreSql.SelectTriplet and ListTriplets, in order.
    public static TripletEntry ReadTriplet(DbDataReader reader) => new(
        new Triplet(reader.GetString(0), reader.GetString(1), reader.GetString(2)),
        (TripletState)reader.GetInt64(3),
        Time(reader.GetInt64(4)),
        Time(reader.GetInt64(5)),
        Time(reader.GetInt64(6)),
        (int)Math.Min(reader.GetInt64(7), int.MaxValue));

    public static AutoWhitelistEntry ReadAutoWhitelist(DbDataReader reader) => ReadAutoWhitelist(reader, 0);

    private static AutoWhitelistEntry ReadAutoWhitelist(DbDataReader reader, int first) => new(
        reader.GetString(first),
        reader.GetString(first + 1),
        (int)Math.Min(reader.GetInt64(first + 2), int.MaxValue),
        Time(reader.GetInt64(first + 3)),
        Time(reader.GetInt64(first + 4)),
        Time(reader.GetInt64(first + 5)));

    // The columns of StoreSql.ListAllow, in order: kind, value, reason, created, expires (NULL: never).
    public static GreylistAllowEntry ReadAllow(DbDataReader r) => new((GreylistAllowKind)StoreSession.Int64(r, 0), StoreSession.Text(r, 1),
        StoreSession.Text(r, 2), Time(StoreSession.Int64(r, 3)), StoreSession.NullableInt64(r, 4) is { } expires ? Time(expires) : null);

    public static DateTimeOffset Time(long unixSeconds) => DateTimeOffset.FromUnixTimeSeconds(unixSeconds);
}
