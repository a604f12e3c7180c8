using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;
using Milter.Filters.Stores;

namespace Milter.Load;

/// <summary>
/// <c>milter-load prefill --db PATH --count N [--expired E] [--start S] [--json]</c>: creates the schema the way
/// milterhost does (<see cref="StoreFactory"/>, its own migrations), then inserts N passed triplets
/// (<see cref="BulkTriplets"/> rows S..S+N-1) and E already expired ones after them (for the sweep test) inside SQLite, a
/// million rows per transaction, with syncing off: a bench database, not a production one.
/// Stop the daemon first; start it again afterwards.
/// </summary>
public static class PrefillCommand
{
    private const long Chunk = 1_000_000;

    public static async Task<int> ExecuteAsync(Arguments args, CancellationToken ct)
    {
        var path = Path.GetFullPath(args.Required("--db"));
        var count = args.Number("--count", 1_000_000);
        var expired = args.Number("--expired", 0);
        var first = args.Number("--start", 0);
        var json = args.Flag("--json");
        args.EnsureAllUsed();

        var time = TimeProvider.System;
        await using (await StoreFactory.OpenAsync("sqlite:" + path, time, cancellationToken: ct).ConfigureAwait(false))
        {
            // Opening is enough: the schema is now there.
        }

        var started = time.GetTimestamp();
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            await connection.ExecuteAsync("PRAGMA synchronous = OFF", new Cancel(ct)).ConfigureAwait(false);
            await connection.ExecuteAsync("PRAGMA cache_size = -262144", new Cancel(ct)).ConfigureAwait(false);
            // Rows start..start+count-1 pass for a year; the next expired rows expired an hour ago.
            await InsertAsync(connection, first, first + count, now + 365L * 86400, now, ct).ConfigureAwait(false);
            await InsertAsync(connection, first + count, first + count + expired, now - 3600, now, ct).ConfigureAwait(false);
            await connection.ExecuteAsync("PRAGMA wal_checkpoint(TRUNCATE)", new Cancel(ct)).ConfigureAwait(false);
            var rows = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM greylist_triplet", new Cancel(ct)).ConfigureAwait(false);
            var seconds = time.GetElapsedTime(started).TotalSeconds;
            var size = new FileInfo(path).Length / 1048576.0;
            if (json)
                Console.WriteLine(Json.Write(new { path, inserted = count + expired, rows, seconds, sizeMb = size }));
            else
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path}: inserted {count + expired} triplets in {seconds:F1} s; {rows} rows, {size:F0} MB"));
        }
        return 0;
    }

    private static async Task InsertAsync(SqliteConnection connection, long from, long to, long expires, long now, CancellationToken ct)
    {
        for (var start = from; start < to; start += Chunk)
        {
            var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                await connection.ExecuteAsync(BulkTriplets.InsertSql, new BulkRange(start, Math.Min(to, start + Chunk), now, expires, ct), transaction)
                    .ConfigureAwait(false);
                await transaction.CommitAsync(ct).ConfigureAwait(false);
            }
        }
    }

}

// The parameters of the prefill's statements; a CancellationToken member cancels the command, as in the stores.
internal sealed record BulkRange(long From, long To, long Now, long Expires, CancellationToken Cancel);

internal sealed record Cancel(CancellationToken Token);
