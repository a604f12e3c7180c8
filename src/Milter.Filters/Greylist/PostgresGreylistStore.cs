using Microsoft.Extensions.Logging;
using Milter.Filters.Stats;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The greylist in PostgreSQL, shared by several MX hosts: each check locks its triplet row
/// (<c>SELECT ... FOR UPDATE</c>) or inserts it with <c>ON CONFLICT DO NOTHING</c>, so two hosts
/// seeing the same triplet at the same moment write one row and give consistent answers.
/// Opened by <see cref="StoreFactory"/>.
/// </summary>
public sealed class PostgresGreylistStore : GreylistStore
{
    internal PostgresGreylistStore(PostgresDatabase database, IDynamicBanStore bans, DecisionTally? tally, TimeProvider time, StoreOptions options, ILogger<PostgresGreylistStore> logger)
        : base(database, bans, tally, time, options, logger) { }
}
