using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Milter.Filters.Configuration;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// Passed triplets and auto-whitelist hits known in memory (bounded caches), and the lifetime
/// extensions their hits owe the database (touch maps). A hit answers without touching the database;
/// it queues the extension, written in batches by <see cref="FlushAsync"/> (the sweeper calls it), and
/// is re-read from the database after <see cref="StoreOptions.CacheRevalidateAfter"/> so that removals
/// made elsewhere take effect.
/// </summary>
internal sealed class PassCache
{
    private readonly StoreDatabase _database;
    private readonly StoreOptions _options;
    private readonly ILogger _logger;
    private readonly BoundedCache<Triplet, CachedPass> _passed;
    private readonly BoundedCache<(string Client, string Domain), CachedPass> _whitelisted;
    private readonly ConcurrentDictionary<Triplet, Touch> _tripletTouches = new();
    private readonly ConcurrentDictionary<(string Client, string Domain), Touch> _awlTouches = new();
    private int _pendingTouches;
    // Moved by every removal and by Clear: a pass read from the database before one of them (a check
    // in flight while the change poll saw another process remove it) is not cached after it.
    private long _epoch;

    public PassCache(StoreDatabase database, StoreOptions options, ILogger logger)
    {
        _database = database;
        _options = options;
        _logger = logger;
        _passed = new BoundedCache<Triplet, CachedPass>(options.CacheCapacity);
        _whitelisted = new BoundedCache<(string, string), CachedPass>(Math.Max(2, options.CacheCapacity / 4));
    }

    /// <summary>Entries in the pass cache.</summary>
    public int Count => _passed.Count;

    /// <summary>Taken before a check reads the database; handed back when it caches what it read (see <see cref="Clear"/>).</summary>
    public long Epoch => Volatile.Read(ref _epoch);

    /// <summary>Lifetime extensions waiting for <see cref="FlushAsync"/>.</summary>
    public int PendingTouches => Volatile.Read(ref _pendingTouches);

    /// <summary>
    /// A pass known in memory and verified recently enough: whitelisted (client, sender domain) first,
    /// then the triplet. With <paramref name="record"/> the hit extends the lifetime (<paramref name="epoch"/>: <see cref="Epoch"/> taken before, as for the reads).
    /// </summary>
    public bool TryHit(Triplet triplet, long now, GreylistOptions options, bool record, long epoch, out GreylistResult result)
    {
        result = null!;
        var revalidate = (long)_options.CacheRevalidateAfter.TotalSeconds;
        if (options.AutoWhitelist.After > 0 && GreylistPolicy.CountsForAutoWhitelist(triplet))
        {
            var key = (triplet.Client, triplet.SenderDomain);
            if (_whitelisted.TryGet(key, out var hit) && now < hit.Expires && now - hit.VerifiedAt < revalidate)
            {
                if (record)
                    Extend(_whitelisted, _awlTouches, key, hit, now, now + (long)options.AutoWhitelist.Lifetime.TotalSeconds, epoch);
                result = new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Whitelisted, TimeSpan.Zero);
                return true;
            }
        }
        if (_passed.TryGet(triplet, out var pass) && now < pass.Expires && now - pass.VerifiedAt < revalidate)
        {
            if (record)
                Extend(_passed, _tripletTouches, triplet, pass, now, now + (long)options.PassLifetime.TotalSeconds, epoch);
            result = new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Passed, TimeSpan.Zero);
            return true;
        }
        return false;
    }

    /// <summary>
    /// A whitelisted (client, sender domain) read from the database now: cached, its lifetime extended to <paramref name="expires"/>;
    /// not cached when something was removed since <paramref name="epoch"/> (<see cref="Epoch"/> before the read).
    /// </summary>
    public void ExtendWhitelisted(Triplet triplet, AutoWhitelistEntry read, long now, long expires, long epoch) =>
        Extend(_whitelisted, _awlTouches, (triplet.Client, triplet.SenderDomain),
            new CachedPass(read.Expires.ToUnixTimeSeconds(), now, read.LastSeen.ToUnixTimeSeconds()), now, expires, epoch);

    /// <summary>A triplet that passed before, read from the database now: cached, as a hit would leave it, its lifetime extended to <paramref name="expires"/> (<paramref name="epoch"/>: as above).</summary>
    public void ExtendPassed(TripletEntry read, long now, long expires, long epoch) =>
        Extend(_passed, _tripletTouches, read.Triplet,
            new CachedPass(read.Expires.ToUnixTimeSeconds(), now, read.LastSeen.ToUnixTimeSeconds()), now, expires, epoch);

    /// <summary>A pass just committed (the triplet's, or the auto-whitelist's when <paramref name="whitelisted"/>), valid until <paramref name="expires"/> (<paramref name="epoch"/>: as above).</summary>
    public void Remember(Triplet triplet, bool whitelisted, long expires, long now, long epoch)
    {
        var pass = new CachedPass(expires, now, now);
        if (whitelisted)
            SetUnlessRemoved(_whitelisted, (triplet.Client, triplet.SenderDomain), pass, epoch);
        else
            SetUnlessRemoved(_passed, triplet, pass, epoch);
    }

    /// <summary>The rows as read, with the lifetime extensions still waiting for the flush counted in.</summary>
    public (AutoWhitelistEntry? Awl, TripletEntry? Entry) WithPendingTouches(Triplet triplet, AutoWhitelistEntry? awl, TripletEntry? entry)
    {
        if (awl is not null && _awlTouches.TryGetValue((triplet.Client, triplet.SenderDomain), out var awlTouch))
            awl = awl with { LastSeen = Later(awl.LastSeen, awlTouch.LastSeen), Expires = Later(awl.Expires, awlTouch.Expires) };
        if (entry is { State: TripletState.Passed } && _tripletTouches.TryGetValue(triplet, out var touch))
            entry = entry with { LastSeen = Later(entry.LastSeen, touch.LastSeen), Expires = Later(entry.Expires, touch.Expires) };
        return (awl, entry);
    }

    /// <summary>Writes the lifetime extensions queued so far; a failure is logged and they are dropped (a lifetime only ends sooner).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        // In key order, as the writer of deferred attempts writes: the maps' order is their hash
        // table's, seeded per process, and two MX hosts updating the same rows in different orders
        // deadlock on PostgreSQL (the victim's extensions were dropped, with an error in the log).
        var triplets = Drain(_tripletTouches);
        triplets.Sort(static (a, b) => Triplet.KeyOrder.Compare(a.Key, b.Key));
        var awl = Drain(_awlTouches);
        awl.Sort(static (a, b) => AutoWhitelistEntry.CompareKeys(a.Key, b.Key));
        if (triplets.Count == 0 && awl.Count == 0)
            return;
        int tripletsDone = 0, awlDone = 0;
        try
        {
            // Short relaxed transactions (a lost extension only shortens a lifetime), so that a new pass never waits behind the whole flush.
            await _database.WriteInChunksAsync(triplets, (session, row, ct) => GreylistRows.TouchTripletAsync(session,
                row.Key, row.Value.LastSeen, row.Value.Expires, ct), done => tripletsDone = done, cancellationToken).ConfigureAwait(false);
            await _database.WriteInChunksAsync(awl, (session, row, ct) => GreylistRows.ExtendAutoWhitelistAsync(session,
                row.Key.Client, row.Key.Domain, row.Value.LastSeen, row.Value.Expires, ct), done => awlDone = done, cancellationToken).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            StoreLog.FlushFailed(_logger, triplets.Count + awl.Count, ex);
        }
        catch (OperationCanceledException)
        {
            // Stopped mid-way (the daemon's stop): what was not written waits for the final flush, unless a newer one came meanwhile.
            PutBack(_tripletTouches, triplets.Skip(tripletsDone));
            PutBack(_awlTouches, awl.Skip(awlDone));
            throw;
        }
    }

    /// <summary>The triplet's row was removed: its pass and its pending extension go.</summary>
    public void RemoveTriplet(Triplet triplet)
    {
        Interlocked.Increment(ref _epoch);
        _passed.Remove(triplet);
        RemoveTouch(_tripletTouches, triplet);
    }

    /// <summary>The auto-whitelist entry was removed: its pass and its pending extension go.</summary>
    public void RemoveAutoWhitelist(string client, string senderDomain)
    {
        Interlocked.Increment(ref _epoch);
        _whitelisted.Remove((client, senderDomain));
        RemoveTouch(_awlTouches, (client, senderDomain));
    }

    /// <summary>The auto-whitelist entry's count went down: the next check reads it from the database (its pending extension stays).</summary>
    public void ForgetAutoWhitelist(string client, string senderDomain)
    {
        Interlocked.Increment(ref _epoch);
        _whitelisted.Remove((client, senderDomain));
    }

    /// <summary>Every auto-whitelist entry of <paramref name="client"/> was removed (the bypass ban).</summary>
    public void RemoveAutoWhitelistOf(string client)
    {
        Interlocked.Increment(ref _epoch);
        _whitelisted.RemoveWhere(k => k.Client == client);
        foreach (var pending in _awlTouches.Keys.Where(k => k.Client == client))
            RemoveTouch(_awlTouches, pending);
    }

    /// <summary>Forgets every pass, so that the next check of each asks the database.</summary>
    public void Clear()
    {
        // First, so that a check caching what it read before sees the move after its own write (SetUnlessRemoved).
        Interlocked.Increment(ref _epoch);
        _passed.Clear();
        _whitelisted.Clear();
    }

    // The new lifetime counts in memory at once (the cache entry); the database hears of it at most every TouchAfter.
    private void Extend<TKey>(BoundedCache<TKey, CachedPass> cache, ConcurrentDictionary<TKey, Touch> touches, TKey key, CachedPass hit, long now,
        long expires, long epoch) where TKey : notnull
    {
        var persisted = hit.PersistedAt;
        if (now - persisted >= (long)_options.TouchAfter.TotalSeconds && PendingTouches < _options.MaxPendingTouches)
        {
            if (touches.TryAdd(key, new Touch(now, expires)))
                Interlocked.Increment(ref _pendingTouches);
            else
                touches[key] = new Touch(now, expires);
            persisted = now;
        }
        SetUnlessRemoved(cache, key, hit with { Expires = Math.Max(hit.Expires, expires), PersistedAt = persisted }, epoch);
    }

    // Caches a pass read or written while the epoch was `epoch`; a removal since (which may have
    // come before or after this write) takes it out again: the next check asks the database.
    private void SetUnlessRemoved<TKey>(BoundedCache<TKey, CachedPass> cache, TKey key, CachedPass pass, long epoch) where TKey : notnull
    {
        cache.Set(key, pass);
        if (Epoch != epoch)
            cache.Remove(key);
    }

    private List<KeyValuePair<TKey, Touch>> Drain<TKey>(ConcurrentDictionary<TKey, Touch> touches) where TKey : notnull
    {
        var drained = new List<KeyValuePair<TKey, Touch>>();
        foreach (var key in touches.Keys)
        {
            if (touches.TryRemove(key, out var touch))
            {
                Interlocked.Decrement(ref _pendingTouches);
                drained.Add(new(key, touch));
            }
        }
        return drained;
    }

    private void PutBack<TKey>(ConcurrentDictionary<TKey, Touch> touches, IEnumerable<KeyValuePair<TKey, Touch>> rows) where TKey : notnull
    {
        foreach (var (key, touch) in rows)
        {
            if (touches.TryAdd(key, touch))
                Interlocked.Increment(ref _pendingTouches);
        }
    }

    private void RemoveTouch<TKey>(ConcurrentDictionary<TKey, Touch> touches, TKey key) where TKey : notnull
    {
        if (touches.TryRemove(key, out _))
            Interlocked.Decrement(ref _pendingTouches);
    }

    private static DateTimeOffset Later(DateTimeOffset stored, long unixSeconds) => GreylistRows.Time(Math.Max(stored.ToUnixTimeSeconds(), unixSeconds));

    /// <summary>A pass known in memory: valid until <c>Expires</c>; read from the database at <c>VerifiedAt</c>; lifetime written up to <c>PersistedAt</c> (Unix seconds).</summary>
    private readonly record struct CachedPass(long Expires, long VerifiedAt, long PersistedAt);

    /// <summary>A lifetime extension waiting for the flush.</summary>
    private readonly record struct Touch(long LastSeen, long Expires);
}
