using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Milter.Filters.Ban;
using Milter.Filters.Greylist;
using Milter.Filters.Stats;

namespace Milter.Filters.Stores;

/// <summary>Opens the stores named by the <c>database:</c> setting and brings the schema up to date.</summary>
public static class StoreFactory
{
    private const string SqlitePrefix = "sqlite:";
    private const string PostgresPrefix = "postgres:";

    /// <summary>
    /// <c>sqlite:PATH</c> (file and folder created when missing) or <c>postgres:CONNECTION-STRING</c>
    /// (Npgsql syntax). Anything else is an <see cref="ArgumentException"/>; an unreachable or
    /// unusable database a <see cref="StoreUnavailableException"/>.
    /// </summary>
    public static async Task<MilterStores> OpenAsync(string database, TimeProvider time, ILoggerFactory? loggers = null,
        StoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(time);
        loggers ??= NullLoggerFactory.Instance;
        options ??= new StoreOptions();

        StoreDatabase db;
        if (database.StartsWith(SqlitePrefix, StringComparison.OrdinalIgnoreCase) && database.Length > SqlitePrefix.Length)
            db = await SqliteDatabase.OpenAsync(database[SqlitePrefix.Length..], options, time, loggers.CreateLogger<SqliteDatabase>(), cancellationToken).ConfigureAwait(false);
        else if (database.StartsWith(PostgresPrefix, StringComparison.OrdinalIgnoreCase) && database.Length > PostgresPrefix.Length)
            db = PostgresDatabase.Create(database[PostgresPrefix.Length..]);
        else
            throw new ArgumentException($"database '{database}': expected sqlite:PATH or postgres:CONNECTION-STRING", nameof(database));

        db.Time = time;
        try
        {
            var version = await db.MigrateAsync(time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            StoreLog.Opened(loggers.CreateLogger(typeof(StoreFactory)), db.Description, version);
            return Create(db, time, loggers, options);
        }
        catch
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // One store class per concept; what differs between SQLite and PostgreSQL stays in the StoreDatabase.
    private static MilterStores Create(StoreDatabase db, TimeProvider time, ILoggerFactory loggers, StoreOptions options)
    {
        var bans = new DynamicBanStore(db, time, options, loggers.CreateLogger<DynamicBanStore>());
        var tally = new DecisionTally(db, time, loggers.CreateLogger<DecisionTally>(), options.TallyCapacity);
        var greylistLogger = loggers.CreateLogger<GreylistStore>();
        var passes = new PassCache(db, options, greylistLogger);
        var bypass = new BypassBanStore(db, bans, passes, loggers.CreateLogger<BypassBanStore>());
        var greylist = new GreylistStore(db, passes, tally, time, options, greylistLogger, [bypass]);
        return new MilterStores(db, greylist, bans, bypass, tally);
    }
}
