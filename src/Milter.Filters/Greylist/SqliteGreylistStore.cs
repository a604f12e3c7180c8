using Microsoft.Extensions.Logging;
using Milter.Filters.Stats;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The greylist in a SQLite file (the default, one host): WAL, <c>synchronous=FULL</c>, each check
/// one <c>BEGIN IMMEDIATE</c> transaction on one connection whose statements stay prepared.
/// Opened by <see cref="StoreFactory"/>.
/// </summary>
public sealed class SqliteGreylistStore : GreylistStore
{
    internal SqliteGreylistStore(SqliteDatabase database, IDynamicBanStore bans, DecisionTally? tally, TimeProvider time, StoreOptions options, ILogger<SqliteGreylistStore> logger)
        : base(database, bans, tally, time, options, logger) { }
}
