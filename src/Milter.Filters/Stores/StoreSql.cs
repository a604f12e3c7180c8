namespace Milter.Filters.Stores;

// Every SQL statement of the stores, SQLite and PostgreSQL. Most are the same text for both (the
// schema uses only BIGINT and TEXT, upserts use the ON CONFLICT form both understand); where the
// dialects differ, SqlDialect holds one constant per backend. Times are Unix seconds.

/// <summary>The SQL both backends run unchanged.</summary>
internal static class StoreSql
{
    // ---- schema -------------------------------------------------------------------------------

    public const string CreateVersionTable =
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)";
    public const string SelectVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
    public const string InsertVersion = "INSERT INTO schema_version (version, applied) VALUES (@Version, @Applied)";

    /// <summary>Migrations in order; index + 1 is the version each brings the schema to. Append only.</summary>
    public static readonly IReadOnlyList<IReadOnlyList<string>> Migrations =
    [
        // 1: triplets, auto-whitelist, admin allow list, bypass strikes, dynamic bans.
        [
            """
            CREATE TABLE greylist_triplet (
                client TEXT NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL,
                sender_domain TEXT NOT NULL,
                state BIGINT NOT NULL,
                first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, expires BIGINT NOT NULL,
                deferrals BIGINT NOT NULL,
                PRIMARY KEY (client, sender, recipient))
            """,
            "CREATE INDEX ix_greylist_triplet_expires ON greylist_triplet (expires)",
            "CREATE INDEX ix_greylist_triplet_state ON greylist_triplet (state, expires)",
            "CREATE INDEX ix_greylist_triplet_sender ON greylist_triplet (sender_domain, sender)",
            "CREATE INDEX ix_greylist_triplet_recipient ON greylist_triplet (recipient)",
            """
            CREATE TABLE greylist_awl (
                client TEXT NOT NULL, sender_domain TEXT NOT NULL,
                passes BIGINT NOT NULL,
                first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, expires BIGINT NOT NULL,
                PRIMARY KEY (client, sender_domain))
            """,
            "CREATE INDEX ix_greylist_awl_expires ON greylist_awl (expires)",
            "CREATE INDEX ix_greylist_awl_domain ON greylist_awl (sender_domain)",
            """
            CREATE TABLE greylist_allow (
                kind BIGINT NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL,
                created BIGINT NOT NULL, expires BIGINT NULL,
                PRIMARY KEY (kind, value))
            """,
            "CREATE INDEX ix_greylist_allow_expires ON greylist_allow (expires)",
            """
            CREATE TABLE greylist_strike (
                client TEXT NOT NULL, at BIGINT NOT NULL, strikes BIGINT NOT NULL, expires BIGINT NOT NULL,
                PRIMARY KEY (client, at))
            """,
            "CREATE INDEX ix_greylist_strike_expires ON greylist_strike (expires)",
            """
            CREATE TABLE dynamic_ban (
                network TEXT PRIMARY KEY, reason TEXT NOT NULL, source TEXT NOT NULL,
                created BIGINT NOT NULL, expires BIGINT NOT NULL)
            """,
            "CREATE INDEX ix_dynamic_ban_expires ON dynamic_ban (expires)",
        ],
        // 2: per-minute tallies for `stats`, /metrics and the status page (kept 35 days).
        [
            """
            CREATE TABLE decision_tally (
                minute BIGINT NOT NULL, filter TEXT NOT NULL, verdict TEXT NOT NULL, rule TEXT NOT NULL,
                network TEXT NOT NULL, sender_domain TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (minute, filter, verdict, rule, network, sender_domain))
            """,
            """
            CREATE TABLE greylist_tally (
                minute BIGINT NOT NULL, event TEXT NOT NULL, delay BIGINT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (minute, event, delay))
            """,
        ],
        // 3: change counters, so running daemons notice the admin commands' writes within seconds.
        [
            "CREATE TABLE store_generation (name TEXT PRIMARY KEY, generation BIGINT NOT NULL)",
            "INSERT INTO store_generation (name, generation) VALUES ('" + StoreGenerations.Bans + "', 0), ('"
                + StoreGenerations.Allow + "', 0), ('" + StoreGenerations.Greylist + "', 0)",
        ],
        // 4: two indexes fewer on triplets. Their keys (sender, recipient) are as random as the
        // triplet's own, so every first attempt wrote a page of each far from the others: two of the
        // three random pages it dirtied (the row itself and the expires and state indexes land at
        // their ends). Only the admin commands' --sender and --recipient filters read them, and a scan
        // serves those (list sorts the matching rows by last_seen anyway). The indexes on expires and
        // (state, expires) stay: new rows land at their ends, and the sweep and stats read them.
        [
            "DROP INDEX IF EXISTS ix_greylist_triplet_sender",
            "DROP INDEX IF EXISTS ix_greylist_triplet_recipient",
        ],
    ];

    // ---- change counters -----------------------------------------------------------------------

    public const string SelectGenerations = "SELECT name, generation FROM store_generation";

    /// <summary>Run inside the write transaction that makes the change, so a reader never sees one without the other.</summary>
    public const string BumpGeneration = "UPDATE store_generation SET generation = generation + 1 WHERE name = @Name";

    // ---- greylist check (hot path) -----------------------------------------------------------

    private const string TripletColumns = "client, sender, recipient, state, first_seen, last_seen, expires, deferrals";
    private const string TripletKey = "client = @Client AND sender = @Sender AND recipient = @Recipient";

    public const string SelectTriplet = "SELECT " + TripletColumns + " FROM greylist_triplet WHERE " + TripletKey;
    public const string SelectTripletForUpdate = SelectTriplet + " FOR UPDATE";

    /// <summary>A use of a live auto-whitelist entry: never moves a time back (another host may have written a later one).</summary>
    public const string ExtendAwl =
        "UPDATE greylist_awl SET last_seen = CASE WHEN last_seen > @Now THEN last_seen ELSE @Now END, " +
        "expires = CASE WHEN expires > @Expires THEN expires ELSE @Expires END WHERE client = @Client AND sender_domain = @SenderDomain";

    /// <summary>A use of a passed triplet: never moves a time back.</summary>
    public const string TouchTriplet =
        "UPDATE greylist_triplet SET last_seen = CASE WHEN last_seen > @Now THEN last_seen ELSE @Now END, " +
        "expires = CASE WHEN expires > @Expires THEN expires ELSE @Expires END " +
        "WHERE client = @Client AND sender = @Sender AND recipient = @Recipient AND state = 1";

    /// <summary>Affects no row when another transaction inserted the triplet first; the caller then re-reads.</summary>
    public const string InsertTriplet =
        "INSERT INTO greylist_triplet (client, sender, recipient, sender_domain, state, first_seen, last_seen, expires, deferrals) " +
        "VALUES (@Client, @Sender, @Recipient, @SenderDomain, @State, @FirstSeen, @LastSeen, @Expires, @Deferrals) " +
        "ON CONFLICT (client, sender, recipient) DO NOTHING";

    public const string UpdateTriplet =
        "UPDATE greylist_triplet SET state = @State, first_seen = @FirstSeen, last_seen = @LastSeen, expires = @Expires, " +
        "deferrals = @Deferrals WHERE " + TripletKey;

    private const string AwlColumns = "client, sender_domain, passes, first_seen, last_seen, expires";

    public const string SelectAwl = "SELECT " + AwlColumns + " FROM greylist_awl WHERE client = @Client AND sender_domain = @SenderDomain";

    /// <summary>
    /// A check's read in one statement: the triplet's columns (null when it has no row) and then the
    /// auto-whitelist entry's, named awl_* (null when none); no row when neither exists, the first
    /// attempt of a new triplet, so that no reader maps a row of nulls (Microsoft.Data.Sqlite
    /// works out a null column's type from its declaration, allocating, for every column).
    /// </summary>
    public const string SelectTripletAndAwl =
        "SELECT t.client, t.sender, t.recipient, t.state, t.first_seen, t.last_seen, t.expires, t.deferrals, " +
        "a.client AS awl_client, a.sender_domain AS awl_sender_domain, a.passes AS awl_passes, a.first_seen AS awl_first_seen, " +
        "a.last_seen AS awl_last_seen, a.expires AS awl_expires FROM (SELECT 1) AS one " +
        "LEFT JOIN greylist_triplet t ON t.client = @Client AND t.sender = @Sender AND t.recipient = @Recipient " +
        "LEFT JOIN greylist_awl a ON a.client = @Client AND a.sender_domain = @SenderDomain " +
        "WHERE t.client IS NOT NULL OR a.client IS NOT NULL";

    /// <summary>
    /// One more passed triplet for (client, sender domain), atomically so that two MX hosts passing two
    /// triplets at once both count: an expired entry starts again from one; every pass keeps it
    /// <c>auto_whitelist.lifetime</c> from now.
    /// </summary>
    public const string CountPass =
        "INSERT INTO greylist_awl (" + AwlColumns + ") VALUES (@Client, @SenderDomain, 1, @Now, @Now, @Expires) " +
        "ON CONFLICT (client, sender_domain) DO UPDATE SET " +
        "passes = CASE WHEN greylist_awl.expires <= excluded.last_seen THEN 1 ELSE greylist_awl.passes + 1 END, " +
        "first_seen = CASE WHEN greylist_awl.expires <= excluded.last_seen THEN excluded.first_seen ELSE greylist_awl.first_seen END, " +
        "last_seen = excluded.last_seen, expires = excluded.expires";

    /// <summary>
    /// Takes back a pass <see cref="CountPass"/> counted for a message that was then deferred at DATA
    /// (per_message): the message will come back and count then.
    /// </summary>
    public const string UncountPass =
        "UPDATE greylist_awl SET passes = passes - 1 WHERE client = @Client AND sender_domain = @SenderDomain AND passes > 0";

    // ---- the greylist's key filter (SQLite only: rowid) ----------------------------------------

    /// <summary>Triplet keys in insertion order after a rowid: what the key filter has not seen yet.</summary>
    public const string TripletKeysAfter =
        "SELECT rowid AS id, client, sender, recipient FROM greylist_triplet WHERE rowid > @After ORDER BY rowid LIMIT @Limit";
    public const string AwlKeysAfter =
        "SELECT rowid AS id, client, sender_domain FROM greylist_awl WHERE rowid > @After ORDER BY rowid LIMIT @Limit";
    /// <summary>The highest rowid of each table: lower than a cursor once rows at the top were deleted (or the file started anew).</summary>
    public const string LastKeyRowids =
        "SELECT COALESCE((SELECT MAX(rowid) FROM greylist_triplet), 0) AS triplets, COALESCE((SELECT MAX(rowid) FROM greylist_awl), 0) AS awl";
    public const string CountKeys = "SELECT (SELECT COUNT(*) FROM greylist_triplet) + (SELECT COUNT(*) FROM greylist_awl)";

    // ---- bypass ban ------------------------------------------------------------------------

    public const string HasPassed =
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM greylist_awl WHERE client = @Client AND expires > @Now) " +
        "OR EXISTS (SELECT 1 FROM greylist_triplet WHERE client = @Client AND state = 1 AND expires > @Now) THEN 1 ELSE 0 END";
    public const string AddStrike =
        "INSERT INTO greylist_strike (client, at, strikes, expires) VALUES (@Client, @Now, 1, @Expires) " +
        "ON CONFLICT (client, at) DO UPDATE SET strikes = greylist_strike.strikes + 1";
    public const string CountStrikes = "SELECT CAST(COALESCE(SUM(strikes), 0) AS BIGINT) FROM greylist_strike WHERE client = @Client AND at > @Since";
    public const string DeleteStrikes = "DELETE FROM greylist_strike WHERE client = @Client";
    public const string DeleteAwlOfClient = "DELETE FROM greylist_awl WHERE client = @Client";

    // ---- admin -------------------------------------------------------------------------------

    public const string ListTriplets = "SELECT " + TripletColumns + " FROM greylist_triplet WHERE expires > @Now";
    public const string ListAwl = "SELECT " + AwlColumns + " FROM greylist_awl WHERE expires > @Now";
    public const string FilterState = " AND state = @State";
    public const string FilterSender = " AND sender_domain = @SenderDomain AND sender = @Sender";
    public const string FilterSenderDomain = " AND sender_domain = @SenderDomain";
    public const string FilterRecipient = " AND recipient = @Recipient";
    public const string FilterPasses = " AND passes >= @Passes";
    public const string FilterNetworkClients = " AND client LIKE 'net:%'";
    public const string OrderTriplets = " ORDER BY last_seen DESC, client, sender, recipient";
    public const string OrderAwl = " ORDER BY last_seen DESC, client, sender_domain";
    public const string Limit = " LIMIT @Limit";
    public const string DeleteTripletByKey = "DELETE FROM greylist_triplet WHERE " + TripletKey;
    public const string DeleteAwlByKey = "DELETE FROM greylist_awl WHERE client = @Client AND sender_domain = @SenderDomain";

    public const string CountTriplets = "SELECT state, COUNT(*) AS n FROM greylist_triplet WHERE expires > @Now GROUP BY state";
    public const string CountAwl =
        "SELECT COUNT(*) AS entries, CAST(COALESCE(SUM(CASE WHEN passes >= @Passes THEN 1 ELSE 0 END), 0) AS BIGINT) AS whitelisted " +
        "FROM greylist_awl WHERE expires > @Now";
    public const string CountExpired =
        "SELECT (SELECT COUNT(*) FROM greylist_triplet WHERE expires <= @Now) + (SELECT COUNT(*) FROM greylist_awl WHERE expires <= @Now)";

    public const string TopPendingClients =
        "SELECT client, COUNT(*) AS pending, MAX(last_seen) AS last_seen FROM greylist_triplet WHERE state = @State AND expires > @Now " +
        "GROUP BY client ORDER BY COUNT(*) DESC, client LIMIT @Limit";

    private const string AllowColumns = "kind, value, reason, created, expires";
    public const string UpsertAllow =
        "INSERT INTO greylist_allow (" + AllowColumns + ") VALUES (@Kind, @Value, @Reason, @Created, @Expires) " +
        "ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, created = excluded.created, expires = excluded.expires";
    public const string DeleteAllow = "DELETE FROM greylist_allow WHERE kind = @Kind AND value = @Value";
    public const string ListAllow =
        "SELECT " + AllowColumns + " FROM greylist_allow WHERE expires IS NULL OR expires > @Now ORDER BY kind, value";

    // ---- sweeping: a bounded batch per statement keeps each write transaction short --------
    // Each DELETE repeats its condition outside the subquery: on PostgreSQL a row that another
    // transaction renews (a ban re-added, a triplet seen again) after the subquery picked it is
    // re-checked against that condition once its lock is released; the subquery alone is not
    // re-checked, and the renewed row would be deleted.

    /// <summary>Returns what went, so that the pending triplets nobody retried in time reach the greylist tally.</summary>
    public const string SweepTriplets =
        "DELETE FROM greylist_triplet WHERE (client, sender, recipient) IN " +
        "(SELECT client, sender, recipient FROM greylist_triplet WHERE expires <= @Now LIMIT @Batch) AND expires <= @Now " +
        "RETURNING state, expires, deferrals";

    /// <summary>
    /// <see cref="SweepTriplets"/> where rows are locked (PostgreSQL, <see cref="SqlDialect.LocksTripletForUpdate"/>):
    /// the batch is locked up front, skipping the rows another transaction holds. Deleting in table
    /// order, the sweep held some expired rows and waited for another MX host's batch of attempts,
    /// which held others (written in key order) and waited for the sweep's: a deadlock, and the
    /// victim's attempts were lost. A row another transaction holds is being written again (a new
    /// attempt over it) or deleted by another sweep; a later sweep takes it if it is still expired.
    /// </summary>
    public const string SweepTripletsSkippingLocked =
        "DELETE FROM greylist_triplet WHERE (client, sender, recipient) IN " +
        "(SELECT client, sender, recipient FROM greylist_triplet WHERE expires <= @Now LIMIT @Batch FOR UPDATE SKIP LOCKED) AND expires <= @Now " +
        "RETURNING state, expires, deferrals";
    public const string SweepAwl =
        "DELETE FROM greylist_awl WHERE (client, sender_domain) IN " +
        "(SELECT client, sender_domain FROM greylist_awl WHERE expires <= @Now LIMIT @Batch) AND expires <= @Now";
    public const string SweepAllow =
        "DELETE FROM greylist_allow WHERE (kind, value) IN " +
        "(SELECT kind, value FROM greylist_allow WHERE expires IS NOT NULL AND expires <= @Now LIMIT @Batch) AND expires <= @Now";
    public const string SweepStrikes =
        "DELETE FROM greylist_strike WHERE (client, at) IN (SELECT client, at FROM greylist_strike WHERE expires <= @Now LIMIT @Batch) AND expires <= @Now";

    // ---- tallies (stats, status page) ---------------------------------------------------------

    public const string AddDecisionTally =
        "INSERT INTO decision_tally (minute, filter, verdict, rule, network, sender_domain, n) " +
        "VALUES (@Minute, @Filter, @Verdict, @Rule, @Network, @SenderDomain, @N) " +
        "ON CONFLICT (minute, filter, verdict, rule, network, sender_domain) DO UPDATE SET n = decision_tally.n + excluded.n";
    public const string AddGreylistTally =
        "INSERT INTO greylist_tally (minute, event, delay, n) VALUES (@Minute, @Event, @Delay, @N) " +
        "ON CONFLICT (minute, event, delay) DO UPDATE SET n = greylist_tally.n + excluded.n";
    public const string SweepDecisionTally =
        "DELETE FROM decision_tally WHERE (minute, filter, verdict, rule, network, sender_domain) IN " +
        "(SELECT minute, filter, verdict, rule, network, sender_domain FROM decision_tally WHERE minute < @Before LIMIT @Batch)";
    public const string SweepGreylistTally =
        "DELETE FROM greylist_tally WHERE (minute, event, delay) IN (SELECT minute, event, delay FROM greylist_tally WHERE minute < @Before LIMIT @Batch)";

    private const string TallyWindow = " WHERE minute >= @From AND minute < @To";
    // Refused: the client's fault. Greylist deferrals are the normal first answer and on_error ones our own failure.
    private const string Refused = " AND verdict IN ('reject', 'tempfail', 'discard') AND filter <> 'greylist' AND rule <> 'on_error'";
    public const string DecisionsByFilter =
        "SELECT filter, verdict, rule, CAST(SUM(n) AS BIGINT) AS count FROM decision_tally" + TallyWindow +
        " GROUP BY filter, verdict, rule ORDER BY filter, verdict, rule";
    public const string TopRefusedNetworks =
        "SELECT network AS name, CAST(SUM(n) AS BIGINT) AS count FROM decision_tally" + TallyWindow + Refused + " AND network NOT IN ('', '" + Stats.DecisionTally.Folded + "')" +
        " GROUP BY network ORDER BY count DESC, network LIMIT @Limit";
    public const string TopRefusedDomains =
        "SELECT sender_domain AS name, CAST(SUM(n) AS BIGINT) AS count FROM decision_tally" + TallyWindow + Refused + " AND sender_domain NOT IN ('', '" + Stats.DecisionTally.Folded + "')" +
        " GROUP BY sender_domain ORDER BY count DESC, sender_domain LIMIT @Limit";
    public const string DecisionsByHour =
        "SELECT (minute / 3600) * 3600 AS hour, verdict, CAST(SUM(n) AS BIGINT) AS count FROM decision_tally" + TallyWindow +
        " GROUP BY (minute / 3600) * 3600, verdict";
    public const string GreylistEvents =
        "SELECT event, delay, CAST(SUM(n) AS BIGINT) AS count FROM greylist_tally" + TallyWindow + " GROUP BY event, delay ORDER BY event, delay";

    // ---- dynamic bans ------------------------------------------------------------------------

    private const string BanColumns = "network, reason, source, created, expires";

    /// <summary>Insert, or push an existing ban's expiry out; affects no row when the stored expiry already covers the new one.</summary>
    public const string UpsertBan =
        "INSERT INTO dynamic_ban (" + BanColumns + ") VALUES (@Network, @Reason, @Source, @Created, @Expires) " +
        "ON CONFLICT (network) DO UPDATE SET reason = excluded.reason, source = excluded.source, expires = excluded.expires, " +
        "created = CASE WHEN dynamic_ban.expires <= excluded.created THEN excluded.created ELSE dynamic_ban.created END " +
        "WHERE dynamic_ban.expires < excluded.expires";
    public const string DeleteBan = "DELETE FROM dynamic_ban WHERE network = @Network";
    public const string ListBans = "SELECT " + BanColumns + " FROM dynamic_ban WHERE expires > @Now ORDER BY created DESC, network";
    public const string SweepBans =
        "DELETE FROM dynamic_ban WHERE network IN (SELECT network FROM dynamic_ban WHERE expires <= @Now LIMIT @Batch) AND expires <= @Now";
}

/// <summary>The statements that differ between SQLite and PostgreSQL.</summary>
internal sealed class SqlDialect
{
    public static SqlDialect Sqlite { get; } = new()
    {
        Name = "sqlite",
        // Takes the write lock up front: the read and the write of a check see one state.
        BeginWrite = "BEGIN IMMEDIATE",
        LocksTripletForUpdate = false,
        MigrationLock = null,
        FiltersGreylistKeys = true,
    };

    public static SqlDialect Postgres { get; } = new()
    {
        Name = "postgres",
        BeginWrite = "BEGIN",
        // Row lock: a second MX host checking the same triplet waits and then sees this one's write.
        LocksTripletForUpdate = true,
        // Two hosts starting at once must not both migrate; any constant key shared by all milterhosts.
        MigrationLock = "SELECT pg_advisory_xact_lock(7045891263)",
        FiltersGreylistKeys = false,
    };

    public required string Name { get; init; }
    public required string BeginWrite { get; init; }
    /// <summary>Whether a write transaction reads a triplet with <see cref="StoreSql.SelectTripletForUpdate"/> (a row lock) rather than <see cref="StoreSql.SelectTriplet"/> (SQLite: the whole database is locked already).</summary>
    public required bool LocksTripletForUpdate { get; init; }

    public required string? MigrationLock { get; init; }

    /// <summary>
    /// Whether the daemon keeps a filter of the greylist's keys (<c>GreylistKeyFilter</c>): on a SQLite
    /// file, where every row comes from this host and the filter reads new ones by rowid; not on a
    /// database that MX hosts share, whose rows come from the others at any moment.
    /// </summary>
    public required bool FiltersGreylistKeys { get; init; }

    public const string Commit = "COMMIT";
    public const string Rollback = "ROLLBACK";
}
