using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
            return db switch
            {
                SqliteDatabase sqlite => Create(sqlite, time, loggers, options),
                PostgresDatabase postgres => Create(postgres, time, loggers, options),
                _ => throw new InvalidOperationException("unknown database kind"),
            };
        }
        catch
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static MilterStores Create(SqliteDatabase db, TimeProvider time, ILoggerFactory loggers, StoreOptions options)
    {
        var bans = new SqliteDynamicBanStore(db, time, options, loggers.CreateLogger<SqliteDynamicBanStore>());
        var tally = new DecisionTally(db, time, loggers.CreateLogger<DecisionTally>(), options.TallyCapacity);
        return new MilterStores(db, new SqliteGreylistStore(db, bans, tally, time, options, loggers.CreateLogger<SqliteGreylistStore>()), bans, tally);
    }

    private static MilterStores Create(PostgresDatabase db, TimeProvider time, ILoggerFactory loggers, StoreOptions options)
    {
        var bans = new PostgresDynamicBanStore(db, time, options, loggers.CreateLogger<PostgresDynamicBanStore>());
        var tally = new DecisionTally(db, time, loggers.CreateLogger<DecisionTally>(), options.TallyCapacity);
        return new MilterStores(db, new PostgresGreylistStore(db, bans, tally, time, options, loggers.CreateLogger<PostgresGreylistStore>()), bans, tally);
    }
}
