using Microsoft.Extensions.Logging;

namespace Milter.Filters.Stores;

/// <summary>The dynamic ban list in PostgreSQL, shared by several MX hosts. Opened by <see cref="StoreFactory"/>.</summary>
public sealed class PostgresDynamicBanStore : DynamicBanStore
{
    internal PostgresDynamicBanStore(PostgresDatabase database, TimeProvider time, StoreOptions options, ILogger<PostgresDynamicBanStore> logger)
        : base(database, time, options, logger) { }
}
