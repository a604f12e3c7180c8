using System.Collections.Concurrent;
using System.Data.Common;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Milter.Filters.Configuration;
using Milter.Filters.Stats;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The greylist on a SQL database (<see cref="SqliteGreylistStore"/>, <see cref="PostgresGreylistStore"/>),
/// with passed triplets and auto-whitelist hits served from a bounded cache. A cache hit answers
/// without touching the database; it queues the lifetime extension, written in batches by
/// <see cref="FlushAsync"/> (the sweeper calls it), and is re-read from the database after
/// <see cref="StoreOptions.CacheRevalidateAfter"/> so removals made elsewhere take effect.
/// </summary>
public abstract class GreylistStore : IGreylistStore
{
    // Rows written per transaction when flushing lifetime extensions.
    private const int FlushBatch = 500;

    // Deferred attempts written per transaction at most.
    private const int AttemptBatch = 256;

    private readonly StoreDatabase _database;
    private readonly IDynamicBanStore _bans;
    private readonly DecisionTally? _tally;
    private readonly StoreOptions _options;
    private readonly ILogger _logger;
    private readonly BoundedCache<Triplet, CachedPass> _passed;
    private readonly BoundedCache<(string Client, string Domain), CachedPass> _whitelisted;
    private readonly ConcurrentDictionary<Triplet, Touch> _tripletTouches = new();
    private readonly ConcurrentDictionary<(string Client, string Domain), Touch> _awlTouches = new();
    private readonly RefreshingSnapshot<AllowIndex> _allow;
    // Deferred attempts answered and queued for writing, by triplet: the latest one of each (reads see them).
    private readonly ConcurrentDictionary<Triplet, Attempt> _unwritten = new();
    private readonly BatchWriter<Attempt> _attempts;
    // The attempt writer's transaction size, kept from one batch to the next.
    private readonly ChunkSize _attemptChunks = new();
    // The last write of attempts failed: write each one before answering until the database takes writes again.
    private volatile bool _writesFailing;
    private int _pendingTouches;

    private protected GreylistStore(StoreDatabase database, IDynamicBanStore bans, DecisionTally? tally, TimeProvider time, StoreOptions options, ILogger logger)
    {
        _database = database;
        _bans = bans;
        _tally = tally;
        _options = options;
        _logger = logger;
        _passed = new BoundedCache<Triplet, CachedPass>(options.CacheCapacity);
        _whitelisted = new BoundedCache<(string, string), CachedPass>(Math.Max(2, options.CacheCapacity / 4));
        _allow = new RefreshingSnapshot<AllowIndex>(LoadAllowAsync, time, options.SnapshotRefresh, logger, "greylist allow list");
        _attempts = new BatchWriter<Attempt>(WriteAttemptsAsync, (ex, count) => StoreLog.AttemptsLost(logger, count, ex), AttemptBatch);
    }

    /// <summary>Entries in the pass cache (for the status page and tests).</summary>
    public int CachedPasses => _passed.Count;

    /// <summary>Lifetime extensions waiting for <see cref="FlushAsync"/>.</summary>
    public int PendingTouches => Volatile.Read(ref _pendingTouches);

    public Task<GreylistResult> CheckAsync(Triplet triplet, IPAddress? clientAddress, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken) =>
        CheckCoreAsync(triplet, clientAddress, now, options, record: true, cancellationToken);

    public Task<GreylistResult> PreviewAsync(Triplet triplet, IPAddress? clientAddress, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken) =>
        CheckCoreAsync(triplet, clientAddress, now, options, record: false, cancellationToken);

    private async Task<GreylistResult> CheckCoreAsync(Triplet triplet, IPAddress? clientAddress, DateTimeOffset now, GreylistOptions options,
        bool record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(triplet.Client))
            throw new ArgumentException("the triplet has no client key; build it with Triplet.Create", nameof(triplet));
        var seconds = now.ToUnixTimeSeconds();
        // Whole seconds throughout, as stored, so an answer never depends on the sub-second part of the clock.
        var at = DateTimeOffset.FromUnixTimeSeconds(seconds);

        var allow = await _allow.GetAsync(cancellationToken).ConfigureAwait(false);
        if (allow.Matches(clientAddress, triplet.SenderDomain, seconds))
            return new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Allowed, TimeSpan.Zero);

        if (TryCachedPass(triplet, seconds, options, record, out var cached))
            return cached;

        // Decide from a read (a connection of its own, never behind a write or a sweep), with the
        // attempts answered but not yet written counted in.
        var awlApplies = options.AutoWhitelist.After > 0 && GreylistPolicy.CountsForAutoWhitelist(triplet);
        var (awl, entry) = await ReadStateAsync(triplet, awlApplies, cancellationToken).ConfigureAwait(false);
        if (awlApplies && GreylistPolicy.IsWhitelisted(awl, at, options))
        {
            if (record)
                Extend(_whitelisted, _awlTouches, (triplet.Client, triplet.SenderDomain),
                    new CachedPass(awl!.Expires.ToUnixTimeSeconds(), seconds, awl.LastSeen.ToUnixTimeSeconds()), seconds,
                    seconds + (long)options.AutoWhitelist.Lifetime.TotalSeconds);
            return new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Whitelisted, TimeSpan.Zero);
        }
        var evaluation = GreylistPolicy.Evaluate(triplet, entry, at, options);
        if (!record)
            return evaluation.Result;

        if (evaluation.Result.Action == GreylistAction.Defer)
        {
            var attempt = new Attempt(triplet, at, options, evaluation.Entry);
            if (_writesFailing)
            {
                // The last batch could not be written: each attempt is written before it is answered
                // until one succeeds, so that a failing database is answered per on_error (a sender
                // deferred on an attempt that is never recorded would be deferred forever).
                await WriteDeferralsAsync([attempt], null, cancellationToken).ConfigureAwait(false);
                _writesFailing = false;
            }
            else
            {
                // A first attempt or an early retry: answered now, written with others a moment later.
                // Lost only if this process dies first, which costs the sender one more delay.
                _unwritten[triplet] = attempt;
                _attempts.Add(attempt);
            }
            Tally(EventsOf(entry, evaluation.Result, at));
            if (_attempts.Queued > _options.MaxQueuedAttempts)
                await _attempts.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
            return evaluation.Result;
        }
        if (!evaluation.Result.FirstPass)
        {
            // Passed before: a cache entry as a hit would leave it, the new lifetime written later.
            Extend(_passed, _tripletTouches, triplet,
                new CachedPass(entry!.Expires.ToUnixTimeSeconds(), seconds, entry.LastSeen.ToUnixTimeSeconds()), seconds,
                evaluation.Entry.Expires.ToUnixTimeSeconds());
            return evaluation.Result;
        }

        // A new pass must be durable before it is answered: decided again inside a write transaction,
        // after this triplet's earlier attempts have been written.
        if (_unwritten.ContainsKey(triplet))
            await _attempts.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        var outcome = await _database.WriteAsync((session, ct) => CheckInTransactionAsync(session, triplet, at, options, ct), cancellationToken,
            mayRelax: true).ConfigureAwait(false);
        Tally(outcome.Events);
        if (outcome.Result.Passes)
        {
            var pass = new CachedPass(outcome.Expires, seconds, seconds);
            if (outcome.Result.Rule == GreylistRules.Whitelisted)
                _whitelisted.Set((triplet.Client, triplet.SenderDomain), pass);
            else
                _passed.Set(triplet, pass);
        }
        return outcome.Result;
    }

    private void Tally(IReadOnlyList<(GreylistEvent Event, DateTimeOffset At, TimeSpan Delay)> events)
    {
        if (_tally is null)
            return;
        foreach (var (greylistEvent, when, delay) in events)
            _tally.OnGreylist(greylistEvent, when, delay);
    }

    /// <summary>
    /// The auto-whitelist entry (when it applies) and the triplet's row as a check must see them: the
    /// database's, unless an answered attempt is still waiting to be written, with lifetime
    /// extensions still waiting for the flush counted in.
    /// </summary>
    private async Task<(AutoWhitelistEntry? Awl, TripletEntry? Entry)> ReadStateAsync(Triplet triplet, bool awlApplies, CancellationToken cancellationToken)
    {
        var unwritten = _unwritten.TryGetValue(triplet, out var attempt) ? attempt.Entry : null;
        AutoWhitelistEntry? awl = null;
        var entry = unwritten;
        if (awlApplies || unwritten is null)
        {
            var read = await _database.ReadAsync((session, ct) => ReadBothAsync(session, triplet, ct), cancellationToken).ConfigureAwait(false);
            awl = awlApplies ? read.Awl : null;
            entry = unwritten ?? read.Entry;
        }
        if (awl is not null && _awlTouches.TryGetValue((triplet.Client, triplet.SenderDomain), out var awlTouch))
            awl = awl with { LastSeen = Later(awl.LastSeen, awlTouch.LastSeen), Expires = Later(awl.Expires, awlTouch.Expires) };
        if (entry is { State: TripletState.Passed } && _tripletTouches.TryGetValue(triplet, out var touch))
            entry = entry with { LastSeen = Later(entry.LastSeen, touch.LastSeen), Expires = Later(entry.Expires, touch.Expires) };
        return (awl, entry);
    }

    /// <summary>
    /// Writes queued attempts (see <see cref="WriteDeferralsAsync"/>). A failure is logged and the
    /// attempts not yet written dropped (their senders were answered and will be deferred once
    /// more), and later attempts are written before they are answered until the database takes
    /// writes again.
    /// </summary>
    private async Task WriteAttemptsAsync(List<Attempt> attempts)
    {
        var written = 0;
        try
        {
            if (_writesFailing)
            {
                // Queued before the failure was known. Writing them would make the attempts now written
                // one by one (and their sessions) wait behind another busy_timeout.
                StoreLog.AttemptsDropped(_logger, attempts.Count);
                return;
            }
            await WriteDeferralsAsync(attempts, done => written = done, CancellationToken.None, _attemptChunks).ConfigureAwait(false);
            _writesFailing = false;
        }
        catch (StoreUnavailableException ex)
        {
            _writesFailing = true;
            StoreLog.AttemptsLost(_logger, attempts.Count - written, ex);
        }
        finally
        {
            foreach (var attempt in attempts)
                _unwritten.TryRemove(new KeyValuePair<Triplet, Attempt>(attempt.Triplet, attempt));
        }
    }

    /// <summary>
    /// Answered deferrals (see <see cref="DeferralRow"/>), in relaxed transactions that each hold the
    /// writer ~2 ms (<see cref="StoreDatabase.WriteInChunksAsync{T}"/>), so that a new pass, which is
    /// written before it is answered, never waits behind a whole burst of first attempts.
    /// </summary>
    private Task WriteDeferralsAsync(IReadOnlyList<Attempt> attempts, Action<int>? written, CancellationToken cancellationToken, ChunkSize? size = null) =>
        _database.WriteInChunksAsync(attempts, WriteDeferralAsync, written, cancellationToken, size);

    private async Task WriteDeferralAsync(StoreSession session, Attempt attempt, CancellationToken ct)
    {
        // Answered as new: most likely still without a row, so insert first and read only if one is there.
        var answered = attempt.Entry;
        if (answered.Deferrals == 1 && answered.FirstSeen == attempt.At
            && await WriteTripletAsync(session, StoreSql.InsertTriplet, answered, ct).ConfigureAwait(false) > 0)
            return;
        await WriteDecidedAsync(session, attempt.Triplet, row => DeferralRow(attempt, row), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The row an answered deferral leaves, given the row as it is now, which may differ from the row
    /// the answer was read from: another MX host may have recorded the triplet meanwhile (even a later
    /// attempt of it, written first), or a sweep removed it. The row ends as if the attempts had come
    /// in order: the earliest attempt is the first seen, each counts as a deferral. Null for an attempt
    /// that would pass now: nothing is written (its sender was deferred and will retry).
    /// </summary>
    private static TripletEntry? DeferralRow(Attempt attempt, TripletEntry? entry)
    {
        var (triplet, now, options, _) = attempt;
        // A later attempt was written first: this one becomes the first seen.
        if (entry is { State: TripletState.Pending } pending && now < pending.Expires && now < pending.FirstSeen)
            return pending with { FirstSeen = now, Expires = now + options.RetryWindow, Deferrals = pending.Deferrals + 1 };
        var evaluation = GreylistPolicy.Evaluate(triplet, entry, now, options);
        if (evaluation.Result.Action != GreylistAction.Defer)
            return null;
        return entry is not null && entry.LastSeen > now ? evaluation.Entry with { LastSeen = entry.LastSeen } : evaluation.Entry;
    }

    private bool TryCachedPass(Triplet triplet, long now, GreylistOptions options, bool record, out GreylistResult result)
    {
        result = null!;
        var revalidate = (long)_options.CacheRevalidateAfter.TotalSeconds;
        if (options.AutoWhitelist.After > 0 && GreylistPolicy.CountsForAutoWhitelist(triplet))
        {
            var key = (triplet.Client, triplet.SenderDomain);
            if (_whitelisted.TryGet(key, out var hit) && now < hit.Expires && now - hit.VerifiedAt < revalidate)
            {
                if (record)
                    Extend(_whitelisted, _awlTouches, key, hit, now, now + (long)options.AutoWhitelist.Lifetime.TotalSeconds);
                result = new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Whitelisted, TimeSpan.Zero);
                return true;
            }
        }
        if (_passed.TryGet(triplet, out var pass) && now < pass.Expires && now - pass.VerifiedAt < revalidate)
        {
            if (record)
                Extend(_passed, _tripletTouches, triplet, pass, now, now + (long)options.PassLifetime.TotalSeconds);
            result = new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Passed, TimeSpan.Zero);
            return true;
        }
        return false;
    }

    // The new lifetime counts in memory at once (the cache entry); the database hears of it at most every TouchAfter.
    private void Extend<TKey>(BoundedCache<TKey, CachedPass> cache, ConcurrentDictionary<TKey, Touch> touches, TKey key, CachedPass hit, long now,
        long expires) where TKey : notnull
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
        cache.Set(key, hit with { Expires = Math.Max(hit.Expires, expires), PersistedAt = persisted });
    }

    private async Task<CheckOutcome> CheckInTransactionAsync(StoreSession session, Triplet triplet, DateTimeOffset now, GreylistOptions options,
        CancellationToken cancellationToken)
    {
        var seconds = now.ToUnixTimeSeconds();
        var countsForAwl = GreylistPolicy.CountsForAutoWhitelist(triplet);
        var awlExpires = seconds + (long)options.AutoWhitelist.Lifetime.TotalSeconds;
        if (countsForAwl && options.AutoWhitelist.After > 0)
        {
            var awl = await ReadAutoWhitelistAsync(session, triplet.Client, triplet.SenderDomain, cancellationToken).ConfigureAwait(false);
            if (GreylistPolicy.IsWhitelisted(awl, now, options))
            {
                await ExecuteAsync(session, _database.Dialect.ExtendAwl, cancellationToken,
                    ("@client", triplet.Client), ("@sender_domain", triplet.SenderDomain), ("@now", seconds), ("@expires", awlExpires)).ConfigureAwait(false);
                return new CheckOutcome(new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Whitelisted, TimeSpan.Zero), awlExpires, []);
            }
        }

        GreylistEvaluation evaluation = null!;
        var before = await WriteDecidedAsync(session, triplet, row => (evaluation = GreylistPolicy.Evaluate(triplet, row, now, options)).Entry,
            cancellationToken).ConfigureAwait(false);

        // Only a new pass must survive a power cut; losing a first attempt or a retry costs a sender one more delay.
        if (evaluation.Result.FirstPass)
            session.RelaxedCommit = false;
        if (evaluation.Result.FirstPass && countsForAwl)
        {
            await ExecuteAsync(session, StoreSql.CountPass, cancellationToken,
                ("@client", triplet.Client), ("@sender_domain", triplet.SenderDomain), ("@now", seconds), ("@expires", awlExpires)).ConfigureAwait(false);
        }
        return new CheckOutcome(evaluation.Result, evaluation.Entry.Expires.ToUnixTimeSeconds(), EventsOf(before, evaluation.Result, now));
    }

    /// <summary>
    /// Reads the triplet's row for update, asks <paramref name="decide"/> for the row to leave (null:
    /// leave it as it is) and writes it. A row absent at the read may be inserted by another MX host
    /// before our insert: then it is read (now locked) and decided again; a sweep could delete it in
    /// between, hence the loop. Returns the row as it was before.
    /// </summary>
    private async Task<TripletEntry?> WriteDecidedAsync(StoreSession session, Triplet triplet, Func<TripletEntry?, TripletEntry?> decide,
        CancellationToken cancellationToken)
    {
        var selectForUpdate = _database.Dialect.SelectTripletForUpdate;
        var entry = await ReadTripletAsync(session, selectForUpdate, triplet, cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; ; attempt++)
        {
            if (decide(entry) is not { } row)
                return entry;
            if (entry is not null)
            {
                await WriteTripletAsync(session, StoreSql.UpdateTriplet, row, cancellationToken).ConfigureAwait(false);
                return entry;
            }
            if (await WriteTripletAsync(session, StoreSql.InsertTriplet, row, cancellationToken).ConfigureAwait(false) > 0 || attempt == 2)
                return entry;
            entry = await ReadTripletAsync(session, selectForUpdate, triplet, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>What a check did to the triplet, for the greylist tally (reported once the transaction committed).</summary>
    private static List<(GreylistEvent Event, DateTimeOffset At, TimeSpan Delay)> EventsOf(TripletEntry? before, GreylistResult result, DateTimeOffset now)
    {
        var events = new List<(GreylistEvent, DateTimeOffset, TimeSpan)>(2);
        if (before is null || now >= before.Expires)
        {
            // An expired pending triplet the sweeper has not reached yet ends here instead.
            if (before is { State: TripletState.Pending })
                events.Add((Abandoned(before.Deferrals), before.Expires, TimeSpan.Zero));
            events.Add((GreylistEvent.FirstAttempt, now, TimeSpan.Zero));
            if (result.FirstPass)
                events.Add((GreylistEvent.Passed, now, TimeSpan.Zero));
        }
        else if (before.State == TripletState.Pending)
        {
            events.Add((GreylistEvent.Retry, now, TimeSpan.Zero));
            if (result.FirstPass)
                events.Add((GreylistEvent.Passed, now, now - before.FirstSeen));
        }
        return events;
    }

    /// <summary>A pending triplet that expired: answered 451 once (never retried) or more often (every retry too early).</summary>
    private static GreylistEvent Abandoned(long deferrals) => deferrals > 1 ? GreylistEvent.GaveUp : GreylistEvent.NeverRetried;

    public async Task<DynamicBan?> RecordMisbehaviourAsync(IPAddress client, string clientKey, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(clientKey);
        ArgumentNullException.ThrowIfNull(options);
        if (options.BypassBan.After <= 0)
            return null;
        var key = clientKey;
        var seconds = now.ToUnixTimeSeconds();
        var within = (long)options.BypassBan.Within.TotalSeconds;
        var strikes = await _database.WriteAsync(async (session, ct) =>
        {
            var passed = await session.ScalarAsync(StoreSql.HasPassed, ct, ("@client", key), ("@now", seconds)).ConfigureAwait(false);
            if (passed == 0)
                return 0L;
            await session.ExecuteAsync(StoreSql.AddStrike, ct, ("@client", key), ("@now", seconds), ("@expires", seconds + within)).ConfigureAwait(false);
            return await session.ScalarAsync(StoreSql.CountStrikes, ct, ("@client", key), ("@since", seconds - within)).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        if (!GreylistPolicy.ShouldBan((int)Math.Min(strikes, int.MaxValue), options))
            return null;

        var address = IPNetworks.Canonical(client);
        var ban = new DynamicBan(
            new IPNetwork(address, address.GetAddressBytes().Length * 8),
            $"passed greylisting, then {strikes} rejections within {options.BypassBan.Within}",
            BanSource.Bypass,
            now,
            now + options.BypassBan.BanFor);
        // The ban first: it is what stops the client; losing the whitelist only matters once the ban ends.
        await _bans.AddAsync(ban, cancellationToken).ConfigureAwait(false);
        await _database.WriteAsync(async (session, ct) =>
        {
            await session.ExecuteAsync(StoreSql.DeleteAwlOfClient, ct, ("@client", key)).ConfigureAwait(false);
            return await session.ExecuteAsync(StoreSql.DeleteStrikes, ct, ("@client", key)).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        _whitelisted.RemoveWhere(k => k.Client == key);
        foreach (var pending in _awlTouches.Keys.Where(k => k.Client == key))
            RemoveTouch(_awlTouches, pending);
        GreylistLog.BypassBan(_logger, address.ToString(), key, strikes, ban.Expires);
        return ban;
    }

    /// <summary>Completes once every deferred attempt answered so far is in the database (or was lost to a failure, logged).</summary>
    public Task WhenAttemptsWrittenAsync(CancellationToken cancellationToken) => _attempts.WhenWrittenAsync(cancellationToken);

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await WhenAttemptsWrittenAsync(cancellationToken).ConfigureAwait(false);
        var triplets = Drain(_tripletTouches);
        var awl = Drain(_awlTouches);
        if (triplets.Count == 0 && awl.Count == 0)
            return;
        try
        {
            // Short relaxed transactions (a lost extension only shortens a lifetime), so that a new pass never waits behind the whole flush.
            var dialect = _database.Dialect;
            await _database.WriteInChunksAsync(triplets, (session, row, ct) => ExecuteAsync(session, dialect.TouchTriplet, ct,
                ("@client", row.Key.Client), ("@sender", row.Key.Sender), ("@recipient", row.Key.Recipient),
                ("@now", row.Value.LastSeen), ("@expires", row.Value.Expires)), null, cancellationToken).ConfigureAwait(false);
            await _database.WriteInChunksAsync(awl, (session, row, ct) => ExecuteAsync(session, dialect.ExtendAwl, ct,
                ("@client", row.Key.Client), ("@sender_domain", row.Key.Domain), ("@now", row.Value.LastSeen), ("@expires", row.Value.Expires)),
                null, cancellationToken).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            StoreLog.FlushFailed(_logger, triplets.Count + awl.Count, ex);
        }
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

    private void RemoveTouch<TKey>(ConcurrentDictionary<TKey, Touch> touches, TKey key) where TKey : notnull
    {
        if (touches.TryRemove(key, out _))
            Interlocked.Decrement(ref _pendingTouches);
    }

    public async Task<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        (string Name, object? Value)[] parameters = [("@now", now.ToUnixTimeSeconds()), ("@batch", (long)batchSize)];
        await WhenAttemptsWrittenAsync(cancellationToken).ConfigureAwait(false);
        // The expired pending triplets are counted in the greylist tally in the same transaction that deletes them.
        // Relaxed commits: a sweep lost to a power cut is simply done again, its tally with it.
        var total = await _database.WriteAsync(async (session, ct) =>
        {
            var gone = await session.QueryAsync(StoreSql.SweepTriplets,
                static r => (State: StoreSession.Int64(r, 0), Expires: StoreSession.Int64(r, 1), Deferrals: StoreSession.Int64(r, 2)), ct, parameters).ConfigureAwait(false);
            var abandoned = gone.Where(row => row.State == (long)TripletState.Pending)
                .GroupBy(row => new GreylistKey(DecisionTally.MinuteOf(Time(row.Expires)), Abandoned(row.Deferrals), 0))
                .ToDictionary(g => g.Key, g => (long)g.Count());
            await DecisionTally.WriteGreylistAsync(session, abandoned, ct).ConfigureAwait(false);
            return gone.Count;
        }, cancellationToken, mayRelax: true).ConfigureAwait(false);
        foreach (var sql in (string[])[StoreSql.SweepAwl, StoreSql.SweepAllow, StoreSql.SweepStrikes])
        {
            total += await _database.WriteAsync((session, ct) =>
                session.ExecuteAsync(sql, ct, parameters), cancellationToken, mayRelax: true).ConfigureAwait(false);
        }
        return total;
    }

    public async Task<int> PurgeAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        const int batch = 1000;
        var total = 0;
        int swept;
        do
        {
            swept = await SweepAsync(now, batch, cancellationToken).ConfigureAwait(false);
            total += swept;
        }
        while (swept > 0);
        return total;
    }

    // ---- admin -------------------------------------------------------------------------------

    public async Task<IReadOnlyList<TripletEntry>> ListTripletsAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (sql, parameters) = BuildTripletQuery(query, now);
        await WhenAttemptsWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync(async (session, ct) => (IReadOnlyList<TripletEntry>)await session.QueryAsync(sql, parameters, ReadTriplet,
            entry => MatchesClient(query, entry.Triplet.Client), query.Limit, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<AutoWhitelistEntry>> ListAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (sql, parameters) = BuildAwlQuery(query, now);
        await WhenAttemptsWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync(async (session, ct) => (IReadOnlyList<AutoWhitelistEntry>)await session.QueryAsync(sql, parameters, ReadAutoWhitelist,
            entry => MatchesClient(query, entry.Client), query.Limit, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<GreylistAllowEntry>> ListAllowedAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        _database.RunAsync(async (session, ct) =>
            (IReadOnlyList<GreylistAllowEntry>)await session.QueryAsync(StoreSql.ListAllow, ReadAllow, ct, ("@now", now.ToUnixTimeSeconds())).ConfigureAwait(false),
            cancellationToken);

    public async Task<GreylistStats> StatsAsync(DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var seconds = now.ToUnixTimeSeconds();
        await WhenAttemptsWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync(async (session, ct) =>
        {
            var states = await session.QueryAsync(StoreSql.CountTriplets,
                static r => (State: StoreSession.Int64(r, 0), N: StoreSession.Int64(r, 1)), ct, ("@now", seconds)).ConfigureAwait(false);
            var awl = (await session.QueryAsync(StoreSql.CountAwl, static r => (Entries: StoreSession.Int64(r, 0), Whitelisted: StoreSession.Int64(r, 1)), ct,
                ("@now", seconds), ("@passes", (long)Math.Max(1, options.AutoWhitelist.After))).ConfigureAwait(false)).Single();
            var allowed = (await session.QueryAsync(StoreSql.ListAllow, ReadAllow, ct, ("@now", seconds)).ConfigureAwait(false)).Count;
            var expired = await session.ScalarAsync(StoreSql.CountExpired, ct, ("@now", seconds)).ConfigureAwait(false);
            return new GreylistStats(
                states.Where(s => s.State == (long)TripletState.Pending).Sum(s => s.N),
                states.Where(s => s.State == (long)TripletState.Passed).Sum(s => s.N),
                awl.Entries,
                options.AutoWhitelist.After > 0 ? awl.Whitelisted : 0,
                allowed,
                expired);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<PendingClient>> TopPendingClientsAsync(int limit, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await WhenAttemptsWrittenAsync(cancellationToken).ConfigureAwait(false);
        return await _database.RunAsync(async (session, ct) => (IReadOnlyList<PendingClient>)await session.QueryAsync(StoreSql.TopPendingClients,
            static r => new PendingClient(StoreSession.Text(r, 0), StoreSession.Int64(r, 1), Time(StoreSession.Int64(r, 2))), ct,
            ("@now", now.ToUnixTimeSeconds()), ("@state", (long)TripletState.Pending), ("@limit", (long)limit)).ConfigureAwait(false),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the admin allow list into memory again now (another process changed it).</summary>
    internal Task ReloadAllowListAsync(CancellationToken cancellationToken) => _allow.ReloadAsync(cancellationToken);

    /// <summary>
    /// Another process removed triplets or auto-whitelist entries: forget every pass held in memory,
    /// so the next check of each asks the database (which no longer has the removed ones).
    /// </summary>
    internal void ForgetCachedPasses()
    {
        _passed.Clear();
        _whitelisted.Clear();
    }

    public async Task AllowAsync(GreylistAllowEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await _database.WriteAsync(async (session, ct) =>
        {
            await session.ExecuteAsync(StoreSql.UpsertAllow, ct,
                ("@kind", (long)entry.Kind),
                ("@value", entry.Value),
                ("@reason", entry.Reason),
                ("@created", entry.Created.ToUnixTimeSeconds()),
                ("@expires", entry.Expires?.ToUnixTimeSeconds())).ConfigureAwait(false);
            return await StoreGenerations.BumpAsync(session, StoreGenerations.Allow, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        await _allow.ReloadAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> DisallowAsync(GreylistAllowKind kind, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(value);
        var removed = await _database.WriteAsync(async (session, ct) =>
        {
            var rows = await session.ExecuteAsync(StoreSql.DeleteAllow, ct, ("@kind", (long)kind), ("@value", value)).ConfigureAwait(false);
            if (rows > 0)
                await StoreGenerations.BumpAsync(session, StoreGenerations.Allow, ct).ConfigureAwait(false);
            return rows;
        }, cancellationToken).ConfigureAwait(false);
        await _allow.ReloadAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    public async Task<int> RemoveTripletsAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var victims = await ListTripletsAsync(query with { Limit = int.MaxValue }, now, cancellationToken).ConfigureAwait(false);
        foreach (var chunk in victims.Chunk(FlushBatch))
        {
            await _database.WriteAsync(async (session, ct) =>
            {
                foreach (var entry in chunk)
                {
                    await ExecuteAsync(session, StoreSql.DeleteTripletByKey, ct, ("@client", entry.Triplet.Client),
                        ("@sender", entry.Triplet.Sender), ("@recipient", entry.Triplet.Recipient)).ConfigureAwait(false);
                }
                await StoreGenerations.BumpAsync(session, StoreGenerations.Greylist, ct).ConfigureAwait(false);
                return chunk.Length;
            }, cancellationToken).ConfigureAwait(false);
            foreach (var entry in chunk)
            {
                _passed.Remove(entry.Triplet);
                RemoveTouch(_tripletTouches, entry.Triplet);
            }
        }
        return victims.Count;
    }

    public async Task<int> RemoveAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var victims = await ListAutoWhitelistAsync(query with { Limit = int.MaxValue }, now, cancellationToken).ConfigureAwait(false);
        foreach (var chunk in victims.Chunk(FlushBatch))
        {
            await _database.WriteAsync(async (session, ct) =>
            {
                foreach (var entry in chunk)
                {
                    await ExecuteAsync(session, StoreSql.DeleteAwlByKey, ct,
                        ("@client", entry.Client), ("@sender_domain", entry.SenderDomain)).ConfigureAwait(false);
                }
                await StoreGenerations.BumpAsync(session, StoreGenerations.Greylist, ct).ConfigureAwait(false);
                return chunk.Length;
            }, cancellationToken).ConfigureAwait(false);
            foreach (var entry in chunk)
            {
                _whitelisted.Remove((entry.Client, entry.SenderDomain));
                RemoveTouch(_awlTouches, (entry.Client, entry.SenderDomain));
            }
        }
        return victims.Count;
    }

    private static (string Sql, List<(string Name, object? Value)> Parameters) BuildTripletQuery(GreylistQuery query, DateTimeOffset now)
    {
        var sql = new StringBuilder(StoreSql.ListTriplets);
        var parameters = new List<(string, object?)> { ("@now", now.ToUnixTimeSeconds()) };
        if (query.State is { } state)
        {
            sql.Append(StoreSql.FilterState);
            parameters.Add(("@state", (long)state));
        }
        AppendSender(query, sql, parameters);
        if (query.Recipient is { } recipient)
        {
            sql.Append(StoreSql.FilterRecipient);
            parameters.Add(("@recipient", EnvelopeAddress.NormalizeRecipient(recipient)));
        }
        AppendClientAndOrder(query, sql, parameters, StoreSql.OrderTriplets);
        return (sql.ToString(), parameters);
    }

    private static (string Sql, List<(string Name, object? Value)> Parameters) BuildAwlQuery(GreylistQuery query, DateTimeOffset now)
    {
        var sql = new StringBuilder(StoreSql.ListAwl);
        var list = new List<(string, object?)> { ("@now", now.ToUnixTimeSeconds()) };
        if (query.MinPasses > 0)
        {
            sql.Append(StoreSql.FilterPasses);
            list.Add(("@passes", (long)query.MinPasses));
        }
        if (query.Sender is { } sender)
        {
            sql.Append(StoreSql.FilterSenderDomain);
            list.Add(("@sender_domain", SenderDomainOf(sender)));
        }
        AppendClientAndOrder(query, sql, list, StoreSql.OrderAwl);
        return (sql.ToString(), list);
    }

    private static void AppendSender(GreylistQuery query, StringBuilder sql, List<(string, object?)> parameters)
    {
        if (query.Sender is not { } sender)
            return;
        if (sender.StartsWith('@'))
        {
            sql.Append(StoreSql.FilterSenderDomain);
            parameters.Add(("@sender_domain", SenderDomainOf(sender)));
            return;
        }
        var normalized = EnvelopeAddress.NormalizeSender(sender);
        sql.Append(StoreSql.FilterSender);
        parameters.Add(("@sender_domain", EnvelopeAddress.DomainOf(normalized)));
        parameters.Add(("@sender", normalized));
    }

    // The CIDR test runs in memory on the rows the other filters let through, so the SQL LIMIT applies only without it.
    private static void AppendClientAndOrder(GreylistQuery query, StringBuilder sql, List<(string, object?)> parameters, string order)
    {
        if (query.Client is not null)
            sql.Append(StoreSql.FilterNetworkClients);
        sql.Append(order);
        if (query.Client is null && query.Limit < int.MaxValue)
        {
            sql.Append(StoreSql.Limit);
            parameters.Add(("@limit", (long)query.Limit));
        }
    }

    private static string SenderDomainOf(string sender) =>
        sender.StartsWith('@') ? sender[1..].Trim().TrimEnd('.').ToLowerInvariant() : EnvelopeAddress.DomainOf(EnvelopeAddress.NormalizeSender(sender));

    private static bool MatchesClient(GreylistQuery query, string client) =>
        query.Client is not { } wanted
        || (ClientKey.TryGetNetwork(client, out var network) && IPNetworks.Overlaps(network, IPNetworks.Normalize(wanted)));

    // ---- row access on the hot path: plain ADO, so SQLite can keep the statements prepared ----

    private static async Task<TripletEntry?> ReadTripletAsync(StoreSession session, string sql, Triplet triplet, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync(sql, [("@client", triplet.Client), ("@sender", triplet.Sender), ("@recipient", triplet.Recipient)],
            ReadTriplet, keep: null, 1, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    private static async Task<(AutoWhitelistEntry? Awl, TripletEntry? Entry)> ReadBothAsync(StoreSession session, Triplet triplet, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync(StoreSql.SelectTripletAndAwl,
            [("@client", triplet.Client), ("@sender", triplet.Sender), ("@recipient", triplet.Recipient), ("@sender_domain", triplet.SenderDomain)],
            static reader => (
                reader.IsDBNull(8) ? null : ReadAutoWhitelist(reader, 8),
                reader.IsDBNull(0) ? null : ReadTriplet(reader)), keep: null, 1, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? (null, null) : rows[0];
    }

    private static async Task<AutoWhitelistEntry?> ReadAutoWhitelistAsync(StoreSession session, string client, string domain, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync(StoreSql.SelectAwl, [("@client", client), ("@sender_domain", domain)],
            ReadAutoWhitelist, keep: null, 1, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    private static TripletEntry ReadTriplet(DbDataReader reader) => new(
        new Triplet(reader.GetString(0), reader.GetString(1), reader.GetString(2)),
        (TripletState)reader.GetInt64(3),
        Time(reader.GetInt64(4)),
        Time(reader.GetInt64(5)),
        Time(reader.GetInt64(6)),
        (int)Math.Min(reader.GetInt64(7), int.MaxValue));

    private static AutoWhitelistEntry ReadAutoWhitelist(DbDataReader reader) => ReadAutoWhitelist(reader, 0);

    private static AutoWhitelistEntry ReadAutoWhitelist(DbDataReader reader, int first) => new(
        reader.GetString(first),
        reader.GetString(first + 1),
        (int)Math.Min(reader.GetInt64(first + 2), int.MaxValue),
        Time(reader.GetInt64(first + 3)),
        Time(reader.GetInt64(first + 4)),
        Time(reader.GetInt64(first + 5)));

    private static DateTimeOffset Time(long unixSeconds) => DateTimeOffset.FromUnixTimeSeconds(unixSeconds);

    private static DateTimeOffset Later(DateTimeOffset stored, long unixSeconds) => Time(Math.Max(stored.ToUnixTimeSeconds(), unixSeconds));

    private static Task<int> WriteTripletAsync(StoreSession session, string sql, TripletEntry entry, CancellationToken cancellationToken) =>
        ExecuteAsync(session, sql, cancellationToken,
            ("@client", entry.Triplet.Client), ("@sender", entry.Triplet.Sender), ("@recipient", entry.Triplet.Recipient),
            ("@sender_domain", entry.Triplet.SenderDomain), ("@state", (long)entry.State),
            ("@first_seen", entry.FirstSeen.ToUnixTimeSeconds()), ("@last_seen", entry.LastSeen.ToUnixTimeSeconds()),
            ("@expires", entry.Expires.ToUnixTimeSeconds()), ("@deferrals", (long)entry.Deferrals));

    private static Task<int> ExecuteAsync(StoreSession session, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
        session.ExecuteAsync(sql, cancellationToken, parameters);

    private Task<AllowIndex> LoadAllowAsync(CancellationToken cancellationToken) =>
        _database.ReadAsync(async (session, ct) =>
        {
            // Entries that expire before the next reload are kept; AllowIndex compares their expiry with each check's time.
            return new AllowIndex(await session.QueryAsync(StoreSql.ListAllow, ReadAllow, ct, ("@now", 0L)).ConfigureAwait(false));
        }, cancellationToken);

    /// <summary>A pass known in memory: valid until <c>Expires</c>; read from the database at <c>VerifiedAt</c>; lifetime written up to <c>PersistedAt</c> (Unix seconds).</summary>
    private readonly record struct CachedPass(long Expires, long VerifiedAt, long PersistedAt);

    /// <summary>A deferred attempt, answered, waiting to be written; <c>Entry</c> is the row it will leave.</summary>
    private sealed record Attempt(Triplet Triplet, DateTimeOffset At, GreylistOptions Options, TripletEntry Entry)
    {
        // Compared by reference: the map entry is removed only by the write of this very attempt.
        public bool Equals(Attempt? other) => ReferenceEquals(this, other);

        public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(this);
    }

    /// <summary>A lifetime extension waiting for the flush.</summary>
    private readonly record struct Touch(long LastSeen, long Expires);

    private sealed record CheckOutcome(GreylistResult Result, long Expires, IReadOnlyList<(GreylistEvent Event, DateTimeOffset At, TimeSpan Delay)> Events);

    // The columns of StoreSql.ListAllow, in order: kind, value, reason, created, expires (NULL: never).
    private static GreylistAllowEntry ReadAllow(DbDataReader r) => new((GreylistAllowKind)StoreSession.Int64(r, 0), StoreSession.Text(r, 1),
        StoreSession.Text(r, 2), Time(StoreSession.Int64(r, 3)), StoreSession.NullableInt64(r, 4) is { } expires ? Time(expires) : null);
}
