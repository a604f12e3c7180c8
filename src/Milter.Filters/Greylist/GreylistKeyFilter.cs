using Dapper;
using Microsoft.Extensions.Logging;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// Every key the greylist's SQLite file may hold (triplets and auto-whitelist entries) in a Bloom
/// filter (<see cref="KeyBloom"/>), so that a check of a triplet never seen before, which is most first
/// attempts, is answered without reading the database: no hop off the socket's thread, no SQLite call.
/// A key it has is read as before (about 1 % of the absent ones too).
/// <para>
/// It learns keys two ways. The check adds a key before it writes that row (a deferral, a pass, an
/// auto-whitelist count), so the daemon's own rows are known before they exist. Every change poll
/// (<see cref="CatchUpAsync"/>) reads the keys inserted since the last one by rowid, so rows written by
/// another process (<c>simulate --record</c>, the sqlite3 shell) are known within a poll period. A key
/// missed meanwhile costs its sender one more deferral, never a wrong pass: the attempt is answered as
/// new, its write finds the row and keeps its first sighting, and the next attempt reads it.
/// </para>
/// <para>
/// Not used on PostgreSQL: there other MX hosts insert rows at any moment and the retry of one host's
/// first attempt often comes to another.
/// Removed rows stay in the filter (they only cost a read). When the rows it has taken in exceed its
/// capacity, or the rows at the top of a table were deleted (new ones may then reuse rowids it has
/// passed), a filter twice the size of the tables is filled from the start beside it and replaces it.
/// </para>
/// </summary>
internal sealed class GreylistKeyFilter
{
    // Rows per read of a catch-up (each its own short read transaction), and reads per call at most,
    // so that a first fill of a large file does not hold up the other work of the change poll for long.
    private const int ChunkRows = 5_000;
    private const int MaxChunksPerCall = 200;
    private const long MinCapacity = 65_536;
    // A first filling of this many rows or more collects its garbage as it goes and is followed by one
    // compacting collection (see FillAsync and Settle).
    internal const long CompactAfterRows = 50_000;

    private readonly StoreDatabase _database;
    private readonly ILogger _logger;
    // The filter checks use once it has caught up with the tables; null until then (every check reads).
    private volatile Filling? _current;
    // A filter being filled from the start: the first one, or the bigger one that replaces _current.
    private volatile Filling? _next;
    private long _skippedReads;

    public GreylistKeyFilter(StoreDatabase database, ILogger logger)
    {
        _database = database;
        _logger = logger;
    }

    /// <summary>Whether checks use it (filled up to the tables at least once).</summary>
    public bool Ready => _current is not null;

    /// <summary>Checks answered without a read, since start.</summary>
    public long SkippedReads => Interlocked.Read(ref _skippedReads);

    /// <summary>The capacity of the filter in use (0: none yet).</summary>
    public long Capacity => _current?.Bloom.Capacity ?? 0;

    /// <summary>
    /// The filter's hashes of a check's two keys, worked out once per check: each string is hashed
    /// once, and the same values serve <see cref="SurelyAbsent"/> and the adds before the write.
    /// </summary>
    public static KeyHashes HashesOf(Triplet key)
    {
        var client = key.Client.GetHashCode();
        return new(TripletHash(client, key.Sender.GetHashCode(), key.Recipient.GetHashCode()), AwlHash(client, key.SenderDomain.GetHashCode()));
    }

    /// <summary>
    /// True when neither the triplet's row (if <paramref name="triplet"/>) nor its auto-whitelist entry
    /// (if <paramref name="autoWhitelist"/>) can be in the database, so the check need not read.
    /// </summary>
    public bool SurelyAbsent(in KeyHashes keys, bool triplet, bool autoWhitelist)
    {
        if (_current is not { } current || (!triplet && !autoWhitelist))
            return false;
        if (triplet && current.Bloom.MayContain(keys.Triplet))
            return false;
        if (autoWhitelist && current.Bloom.MayContain(keys.AutoWhitelist))
            return false;
        Interlocked.Increment(ref _skippedReads);
        return true;
    }

    /// <summary>The triplet's row is about to be written (before the write, so no check misses it in between).</summary>
    public void AddTriplet(in KeyHashes keys) => Add(keys.Triplet);

    /// <summary>The (client, sender domain) auto-whitelist entry may be about to be written.</summary>
    public void AddAutoWhitelist(in KeyHashes keys) => Add(keys.AutoWhitelist);

    /// <summary>
    /// Takes in the rows inserted since the last call (by this process or another); starts or goes on
    /// filling a new filter when there is none yet, the one in use is full, or a table's highest rowid
    /// fell below its cursor (rows at the top were deleted, or the file started anew: rows inserted
    /// since may have rowids the cursor has passed, and only a filling from the start is sure to have
    /// them); puts the new one in use once it has caught up. Called by the change poll, one call at a time.
    /// </summary>
    public async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        var top = await _database.ReadAsync((session, ct) => session.Connection.QuerySingleAsync<LastKeyRowidsRow>(
            StoreSql.LastKeyRowids, new CancelArgs(ct), commandTimeout: session.CommandTimeout), cancellationToken).ConfigureAwait(false);
        var rewound = false;
        if (_current is { } current)
        {
            rewound = current.IsPast(top);
            await FillAsync(current, int.MaxValue, cancellationToken).ConfigureAwait(false);
        }
        if (_next is { } filling && filling.IsPast(top))
            _next = null;
        if (_next is null && (rewound || _current is null || _current.Rows > _current.Bloom.Capacity))
        {
            var rows = await _database.ReadAsync((session, ct) => session.Connection.ExecuteScalarAsync<long>(
                StoreSql.CountKeys, new CancelArgs(ct), commandTimeout: session.CommandTimeout), cancellationToken).ConfigureAwait(false);
            _next = new Filling(new KeyBloom(Math.Max(MinCapacity, 2 * rows)), _database.Time.GetTimestamp(),
                collects: _current is null && rows >= CompactAfterRows);
        }
        if (_next is { } next && await FillAsync(next, MaxChunksPerCall, cancellationToken).ConfigureAwait(false))
        {
            // _current first: an add that finds _next cleared then finds this one in use.
            var first = _current is null;
            _current = next;
            _next = null;
            if (first)
                Settle(next);
        }
    }

    /// <summary>
    /// After the first filling, which runs once at start: reading every key of a large file makes a
    /// few hundred bytes of garbage a row, all at once, and the GC's heap grows with it. An idle
    /// daemon allocates too little to collect again, so it would keep that memory for hours; one
    /// blocking, compacting collection gives it back (bench/RESULTS.md, eighth pass). Not after later
    /// fillings: they run under load, where the GC collects anyway and a full blocking collection
    /// would hold up every session.
    /// </summary>
    private void Settle(Filling filling)
    {
        var seconds = _database.Time.GetElapsedTime(filling.Started).TotalSeconds;
        if (!filling.Collects)
        {
            GreylistLog.KeyFilterReady(_logger, filling.Rows, seconds);
            return;
        }
        var start = _database.Time.GetTimestamp();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GreylistLog.KeyFilterReadyCompacted(_logger, filling.Rows, seconds, _database.Time.GetElapsedTime(start).TotalMilliseconds);
    }

    private void Add(ulong hash)
    {
        // _next first: it becomes _current before it is cleared, so an add reaches the filter that stays.
        _next?.Bloom.Add(hash);
        _current?.Bloom.Add(hash);
    }

    /// <summary>Reads rows after the filling's cursors into it, <paramref name="maxChunks"/> reads at most; true once a read found no more.</summary>
    private async Task<bool> FillAsync(Filling filling, int maxChunks, CancellationToken cancellationToken)
    {
        for (var chunk = 0; chunk < maxChunks; chunk++)
        {
            var (triplets, awl) = await _database.ReadAsync((session, ct) => ReadChunkAsync(session, filling, ct), cancellationToken).ConfigureAwait(false);
            foreach (var row in triplets)
                filling.Bloom.Add(TripletHash(row.Client.GetHashCode(), row.Sender.GetHashCode(), row.Recipient.GetHashCode()));
            foreach (var row in awl)
                filling.Bloom.Add(AwlHash(row.Client.GetHashCode(), row.SenderDomain.GetHashCode()));
            if (triplets.Count > 0)
                filling.TripletCursor = triplets[^1].Id;
            if (awl.Count > 0)
                filling.AwlCursor = awl[^1].Id;
            filling.Rows += triplets.Count + awl.Count;
            // The first filling of a large file runs at start, when little else allocates: the chunk just
            // read is all garbage now, and a collection of the youngest generation takes it while it is
            // small. Otherwise the heap grows by the GC's whole allocation budget first, and the process's
            // high-water mark with it (bench/RESULTS.md, ninth pass).
            if (filling.Collects)
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
            if (triplets.Count < ChunkRows && awl.Count < ChunkRows)
                return true;
        }
        return false;
    }

    private static async Task<(List<TripletKeyRow> Triplets, List<AwlKeyRow> Awl)> ReadChunkAsync(StoreSession session, Filling filling,
        CancellationToken cancellationToken)
    {
        var triplets = await session.Connection.QueryAsync<TripletKeyRow>(StoreSql.TripletKeysAfter,
            new KeysAfterArgs(filling.TripletCursor, ChunkRows, cancellationToken), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        var awl = await session.Connection.QueryAsync<AwlKeyRow>(StoreSql.AwlKeysAfter,
            new KeysAfterArgs(filling.AwlCursor, ChunkRows, cancellationToken), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        return ([.. triplets], [.. awl]);
    }

    // The strings' hashes (Marvin) and HashCode's mixing are seeded per process: a sender cannot pick
    // keys that collide (a collision would only cost reads anyway). The last argument keeps the two kinds apart.
    private static ulong TripletHash(int client, int sender, int recipient) =>
        Join(HashCode.Combine(client, sender, recipient, 1), HashCode.Combine(recipient, sender, client, 2));

    private static ulong AwlHash(int client, int senderDomain) =>
        Join(HashCode.Combine(client, senderDomain, 3), HashCode.Combine(senderDomain, client, 4));

    private static ulong Join(int high, int low) => ((ulong)(uint)high << 32) | (uint)low;

    /// <summary>A filter and how far into each table it has read.</summary>
    private sealed class Filling(KeyBloom bloom, long started, bool collects)
    {
        // The first filling, at start, of a file of CompactAfterRows rows or more: it collects its garbage
        // after each chunk, and once more when it is done (Settle).
        public bool Collects { get; } = collects;
        public KeyBloom Bloom { get; } = bloom;
        // When the filling began (TimeProvider timestamp), for the log line once it is in use.
        public long Started { get; } = started;
        public long TripletCursor { get; set; }
        public long AwlCursor { get; set; }
        // Rows taken in from the tables (the filter's own adds are counted when their rows are read).
        public long Rows { get; set; }

        public bool IsPast(LastKeyRowidsRow top) => top.Triplets < TripletCursor || top.Awl < AwlCursor;
    }
}

/// <summary>The key filter's hashes of a triplet's row and of its (client, sender domain) auto-whitelist entry.</summary>
internal readonly record struct KeyHashes(ulong Triplet, ulong AutoWhitelist);
