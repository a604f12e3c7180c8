using Microsoft.Extensions.Logging;

namespace Milter.Filters.Stores;

/// <summary>The dynamic ban list in the SQLite file (one host). Opened by <see cref="StoreFactory"/>.</summary>
public sealed class SqliteDynamicBanStore : DynamicBanStore
{
    internal SqliteDynamicBanStore(SqliteDatabase database, TimeProvider time, StoreOptions options, ILogger<SqliteDynamicBanStore> logger)
        : base(database, time, options, logger) { }
}
