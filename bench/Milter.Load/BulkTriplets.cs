using System.Globalization;
using System.Net;
using Milter.Filters.Greylist;

namespace Milter.Load;

/// <summary>
/// The pre-filled triplets: row <c>x</c> is (10.A.B.0/24, <c>bulkXz@bulkY.example</c>,
/// <c>userNNNNN@example.com</c>). The same formula is written once in SQL (for the insert) and once
/// here (to look rows up), and neither overlaps the load's own traffic (<see cref="Traffic"/>).
/// </summary>
public static class BulkTriplets
{
    /// <summary>Selects the rows <c>@From</c>..<c>@To</c>-1 of greylist_triplet, state passed, expiring at <c>@Expires</c>.</summary>
    public const string InsertSql =
        "WITH RECURSIVE n(x) AS (SELECT @From UNION ALL SELECT x + 1 FROM n WHERE x + 1 < @To) " +
        "INSERT OR IGNORE INTO greylist_triplet (client, sender, recipient, sender_domain, state, first_seen, last_seen, expires, deferrals) " +
        "SELECT 'net:10.' || ((x / 65536) % 256) || '.' || ((x / 256) % 256) || '.0/24', " +
        "'bulk' || x || 'z@bulk' || (x % 5000) || '.example', " +
        "'user' || printf('%05d', x % 10000) || '@example.com', " +
        "'bulk' || (x % 5000) || '.example', 1, @Now - 86400, @Now - 3600, @Expires, 1 FROM n";

    public static Triplet Key(long x) => Triplet.Create(
        string.Create(CultureInfo.InvariantCulture, $"net:10.{x / 65536 % 256}.{x / 256 % 256}.0/24"),
        string.Create(CultureInfo.InvariantCulture, $"bulk{x}z@bulk{x % 5000}.example"),
        string.Create(CultureInfo.InvariantCulture, $"user{x % 10000:D5}@example.com"));

    public static IPAddress Client(long x) => new([10, (byte)(x / 65536 % 256), (byte)(x / 256 % 256), 7]);
}
