namespace Milter.Filters.Stores;

/// <summary>Tuning of the stores' memory side; none of it changes what a sender sees.</summary>
public sealed record StoreOptions
{
    /// <summary>Passed triplets and auto-whitelist hits kept in memory; about 200 bytes each.</summary>
    public int CacheCapacity { get; init; } = 100_000;

    /// <summary>A cached pass is re-read from the database after this long, so removals by the admin commands or another MX host take effect.</summary>
    public TimeSpan CacheRevalidateAfter { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A cache hit queues a lifetime extension for the database at most this often per entry.</summary>
    public TimeSpan TouchAfter { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>The dynamic ban list and the admin allow list are re-read this often (other MX hosts, <c>ban add</c>, <c>logscan --apply</c>).</summary>
    public TimeSpan SnapshotRefresh { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often a running daemon asks the database whether another process changed the ban list, the
    /// allow list or removed greylist entries (<see cref="StoreChangeWatcher"/>): the longest an admin
    /// command waits to take effect. One single-row query each time.
    /// </summary>
    public TimeSpan ChangePoll { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>SQLite: how long a writer waits for another process's lock before the store reports itself unavailable.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Lifetime extensions waiting for the flush, at most; more are dropped and queued again on a later hit.</summary>
    public int MaxPendingTouches { get; init; } = 100_000;

    /// <summary>
    /// Deferred greylist attempts answered and waiting to be written, beyond which a check waits for
    /// the writer (when the database falls behind a burst of new triplets, the burst slows down
    /// instead of memory growing).
    /// </summary>
    public int MaxQueuedAttempts { get; init; } = 10_000;

    /// <summary>
    /// How long the writer of deferred attempts waits for more of them before it starts a
    /// transaction, so that a burst of first attempts shares a few transactions instead of one or two
    /// rows each: every transaction writes the log frames of the index pages at its end and takes
    /// SQLite's locks again. Zero (the default for the library and its tests): a batch starts at once;
    /// the daemon uses <see cref="Daemon"/>'s.
    /// </summary>
    public TimeSpan AttemptGather { get; init; }

    /// <summary>The daemon's tuning: the defaults, with deferred attempts gathered for 10 ms.</summary>
    public static StoreOptions Daemon { get; } = new() { AttemptGather = TimeSpan.FromMilliseconds(10) };

    /// <summary>
    /// Distinct tally rows waiting for the next write (every 5 s), at most; past it a decision is
    /// counted without its network and sender domain, and a greylist event is dropped and counted.
    /// </summary>
    public int TallyCapacity { get; init; } = 10_000;
}
