using System.Collections.Concurrent;
using System.Data.Common;
using System.Net;
using System.Text;
using Dapper;
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

        var outcome = await CheckInDatabaseAsync(triplet, at, options, record, cancellationToken).ConfigureAwait(false);

        if (record && _tally is not null)
        {
            foreach (var (greylistEvent, when, delay) in outcome.Events)
                _tally.OnGreylist(greylistEvent, when, delay);
        }
        if (record && outcome.Result.Passes)
        {
            var entry = new CachedPass(outcome.Expires, seconds, seconds);
            if (outcome.Result.Rule == GreylistRules.Whitelisted)
                _whitelisted.Set((triplet.Client, triplet.SenderDomain), entry);
            else
                _passed.Set(triplet, entry);
        }
        return outcome.Result;
    }

    // Apart from CheckCoreAsync so that its closures are made only when the database is asked, not on a cache hit.
    private Task<CheckOutcome> CheckInDatabaseAsync(Triplet triplet, DateTimeOffset at, GreylistOptions options, bool record, CancellationToken cancellationToken) =>
        record
            ? _database.WriteAsync((session, ct) => CheckInTransactionAsync(session, triplet, at, options, ct), cancellationToken, mayRelax: true)
            : _database.RunAsync(async (session, ct) =>
            {
                await session.BeginWriteAsync(ct).ConfigureAwait(false);
                var result = await CheckInTransactionAsync(session, triplet, at, options, ct).ConfigureAwait(false);
                await session.RollbackAsync(ct).ConfigureAwait(false);
                return result;
            }, cancellationToken);

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
                    _whitelisted.Set(key, Extend(_awlTouches, key, hit, now, now + (long)options.AutoWhitelist.Lifetime.TotalSeconds));
                result = new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Whitelisted, TimeSpan.Zero);
                return true;
            }
        }
        if (_passed.TryGet(triplet, out var pass) && now < pass.Expires && now - pass.VerifiedAt < revalidate)
        {
            if (record)
                _passed.Set(triplet, Extend(_tripletTouches, triplet, pass, now, now + (long)options.PassLifetime.TotalSeconds));
            result = new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Passed, TimeSpan.Zero);
            return true;
        }
        return false;
    }

    // The new lifetime counts in memory at once; the database hears of it at most every TouchAfter.
    private CachedPass Extend<TKey>(ConcurrentDictionary<TKey, Touch> touches, TKey key, CachedPass hit, long now, long expires) where TKey : notnull
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
        return hit with { Expires = Math.Max(hit.Expires, expires), PersistedAt = persisted };
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

        var selectForUpdate = _database.Dialect.SelectTripletForUpdate;
        var entry = await ReadTripletAsync(session, selectForUpdate, triplet, cancellationToken).ConfigureAwait(false);
        var before = entry;
        var evaluation = GreylistPolicy.Evaluate(triplet, entry, now, options);
        // A row absent at the read may be inserted by another MX host before our insert: then read it
        // (now locked) and decide again. A sweep could delete it in between, hence the loop.
        for (var attempt = 0; ; attempt++)
        {
            if (entry is not null)
            {
                await WriteTripletAsync(session, StoreSql.UpdateTriplet, evaluation.Entry, cancellationToken).ConfigureAwait(false);
                break;
            }
            if (await WriteTripletAsync(session, StoreSql.InsertTriplet, evaluation.Entry, cancellationToken).ConfigureAwait(false) > 0 || attempt == 2)
                break;
            entry = before = await ReadTripletAsync(session, selectForUpdate, triplet, cancellationToken).ConfigureAwait(false);
            evaluation = GreylistPolicy.Evaluate(triplet, entry, now, options);
        }

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

    public async Task<DynamicBan?> RecordMisbehaviourAsync(IPAddress client, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        if (options.BypassBan.After <= 0)
            return null;
        var key = ClientKey.ForAddress(client, options.Subnet);
        var seconds = now.ToUnixTimeSeconds();
        var within = (long)options.BypassBan.Within.TotalSeconds;
        var strikes = await _database.WriteAsync(async (session, ct) =>
        {
            var connection = session.Connection;
            var passed = await connection.ExecuteScalarAsync<long>(StoreSession.Define(StoreSql.HasPassed, new { client = key, now = seconds }, ct)).ConfigureAwait(false);
            if (passed == 0)
                return 0L;
            await connection.ExecuteAsync(StoreSession.Define(StoreSql.AddStrike, new { client = key, now = seconds, expires = seconds + within }, ct)).ConfigureAwait(false);
            return await connection.ExecuteScalarAsync<long>(StoreSession.Define(StoreSql.CountStrikes, new { client = key, since = seconds - within }, ct)).ConfigureAwait(false);
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
            await session.Connection.ExecuteAsync(StoreSession.Define(StoreSql.DeleteAwlOfClient, new { client = key }, ct)).ConfigureAwait(false);
            return await session.Connection.ExecuteAsync(StoreSession.Define(StoreSql.DeleteStrikes, new { client = key }, ct)).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        _whitelisted.RemoveWhere(k => k.Client == key);
        foreach (var pending in _awlTouches.Keys.Where(k => k.Client == key))
            RemoveTouch(_awlTouches, pending);
        GreylistLog.BypassBan(_logger, address.ToString(), key, strikes, ban.Expires);
        return ban;
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var triplets = Drain(_tripletTouches);
        var awl = Drain(_awlTouches);
        if (triplets.Count == 0 && awl.Count == 0)
            return;
        try
        {
            foreach (var chunk in triplets.Chunk(FlushBatch))
            {
                await _database.WriteAsync(async (session, ct) =>
                {
                    foreach (var (triplet, touch) in chunk)
                    {
                        await ExecuteAsync(session, _database.Dialect.TouchTriplet, ct, ("@client", triplet.Client), ("@sender", triplet.Sender),
                            ("@recipient", triplet.Recipient), ("@now", touch.LastSeen), ("@expires", touch.Expires)).ConfigureAwait(false);
                    }
                    return chunk.Length;
                }, cancellationToken, mayRelax: true).ConfigureAwait(false); // a lost extension only shortens a lifetime
            }
            foreach (var chunk in awl.Chunk(FlushBatch))
            {
                await _database.WriteAsync(async (session, ct) =>
                {
                    foreach (var (key, touch) in chunk)
                    {
                        await ExecuteAsync(session, _database.Dialect.ExtendAwl, ct, ("@client", key.Client), ("@sender_domain", key.Domain),
                            ("@now", touch.LastSeen), ("@expires", touch.Expires)).ConfigureAwait(false);
                    }
                    return chunk.Length;
                }, cancellationToken, mayRelax: true).ConfigureAwait(false); // a lost extension only shortens a lifetime
            }
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
        var parameters = new { now = now.ToUnixTimeSeconds(), batch = (long)batchSize };
        // The expired pending triplets are counted in the greylist tally in the same transaction that deletes them.
        // Relaxed commits: a sweep lost to a power cut is simply done again, its tally with it.
        var total = await _database.WriteAsync(async (session, ct) =>
        {
            var gone = (await session.Connection.QueryAsync<(long State, long Expires, long Deferrals)>(
                StoreSession.Define(StoreSql.SweepTriplets, parameters, ct)).ConfigureAwait(false)).ToList();
            var abandoned = gone.Where(row => row.State == (long)TripletState.Pending)
                .GroupBy(row => new GreylistKey(DecisionTally.MinuteOf(Time(row.Expires)), Abandoned(row.Deferrals), 0))
                .ToDictionary(g => g.Key, g => (long)g.Count());
            await DecisionTally.WriteGreylistAsync(session, abandoned, ct).ConfigureAwait(false);
            return gone.Count;
        }, cancellationToken, mayRelax: true).ConfigureAwait(false);
        foreach (var sql in (string[])[StoreSql.SweepAwl, StoreSql.SweepAllow, StoreSql.SweepStrikes])
        {
            total += await _database.WriteAsync((session, ct) =>
                session.Connection.ExecuteAsync(StoreSession.Define(sql, parameters, ct)), cancellationToken, mayRelax: true).ConfigureAwait(false);
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

    public Task<IReadOnlyList<TripletEntry>> ListTripletsAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (sql, parameters) = BuildTripletQuery(query, now);
        return _database.RunAsync(async (session, ct) => (IReadOnlyList<TripletEntry>)await ReadRowsAsync(session, sql, parameters, ReadTriplet,
            entry => MatchesClient(query, entry.Triplet.Client), query.Limit, ct).ConfigureAwait(false), cancellationToken);
    }

    public Task<IReadOnlyList<AutoWhitelistEntry>> ListAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (sql, parameters) = BuildAwlQuery(query, now);
        return _database.RunAsync(async (session, ct) => (IReadOnlyList<AutoWhitelistEntry>)await ReadRowsAsync(session, sql, parameters, ReadAutoWhitelist,
            entry => MatchesClient(query, entry.Client), query.Limit, ct).ConfigureAwait(false), cancellationToken);
    }

    public Task<IReadOnlyList<GreylistAllowEntry>> ListAllowedAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        _database.RunAsync(async (session, ct) =>
        {
            var rows = await session.Connection.QueryAsync<AllowRow>(
                StoreSession.Define(StoreSql.ListAllow, new { now = now.ToUnixTimeSeconds() }, ct)).ConfigureAwait(false);
            return (IReadOnlyList<GreylistAllowEntry>)rows.Select(row => row.ToEntry()).ToList();
        }, cancellationToken);

    public Task<GreylistStats> StatsAsync(DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var seconds = now.ToUnixTimeSeconds();
        return _database.RunAsync(async (session, ct) =>
        {
            var connection = session.Connection;
            var states = (await connection.QueryAsync<(long State, long N)>(
                StoreSession.Define(StoreSql.CountTriplets, new { now = seconds }, ct)).ConfigureAwait(false)).ToList();
            var awl = await connection.QuerySingleAsync<(long Entries, long Whitelisted)>(
                StoreSession.Define(StoreSql.CountAwl, new { now = seconds, passes = (long)Math.Max(1, options.AutoWhitelist.After) }, ct)).ConfigureAwait(false);
            var allowed = (await connection.QueryAsync<AllowRow>(StoreSession.Define(StoreSql.ListAllow, new { now = seconds }, ct)).ConfigureAwait(false)).Count();
            var expired = await connection.ExecuteScalarAsync<long>(StoreSession.Define(StoreSql.CountExpired, new { now = seconds }, ct)).ConfigureAwait(false);
            return new GreylistStats(
                states.Where(s => s.State == (long)TripletState.Pending).Sum(s => s.N),
                states.Where(s => s.State == (long)TripletState.Passed).Sum(s => s.N),
                awl.Entries,
                options.AutoWhitelist.After > 0 ? awl.Whitelisted : 0,
                allowed,
                expired);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<PendingClient>> TopPendingClientsAsync(int limit, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return _database.RunAsync(async (session, ct) =>
        {
            var rows = await session.Connection.QueryAsync<(string Client, long Pending, long LastSeen)>(StoreSession.Define(StoreSql.TopPendingClients,
                new { now = now.ToUnixTimeSeconds(), state = (long)TripletState.Pending, limit = (long)limit }, ct)).ConfigureAwait(false);
            return (IReadOnlyList<PendingClient>)rows.Select(r => new PendingClient(r.Client, r.Pending, Time(r.LastSeen))).ToList();
        }, cancellationToken);
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
            await session.Connection.ExecuteAsync(StoreSession.Define(StoreSql.UpsertAllow, new
            {
                kind = (long)entry.Kind,
                value = entry.Value,
                reason = entry.Reason,
                created = entry.Created.ToUnixTimeSeconds(),
                expires = entry.Expires?.ToUnixTimeSeconds(),
            }, ct)).ConfigureAwait(false);
            return await StoreGenerations.BumpAsync(session, StoreGenerations.Allow, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        await _allow.ReloadAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> DisallowAsync(GreylistAllowKind kind, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(value);
        var removed = await _database.WriteAsync(async (session, ct) =>
        {
            var rows = await session.Connection.ExecuteAsync(
                StoreSession.Define(StoreSql.DeleteAllow, new { kind = (long)kind, value }, ct)).ConfigureAwait(false);
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
        var rows = await ReadRowsAsync(session, sql, [("@client", triplet.Client), ("@sender", triplet.Sender), ("@recipient", triplet.Recipient)],
            ReadTriplet, static _ => true, 1, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    private static async Task<AutoWhitelistEntry?> ReadAutoWhitelistAsync(StoreSession session, string client, string domain, CancellationToken cancellationToken)
    {
        var rows = await ReadRowsAsync(session, StoreSql.SelectAwl, [("@client", client), ("@sender_domain", domain)],
            ReadAutoWhitelist, static _ => true, 1, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    private static async Task<List<T>> ReadRowsAsync<T>(StoreSession session, string sql, IReadOnlyList<(string Name, object? Value)> parameters,
        Func<DbDataReader, T> map, Func<T, bool> keep, int limit, CancellationToken cancellationToken)
    {
        var command = session.Rent(sql);
        try
        {
            foreach (var (name, value) in parameters)
                StoreSession.Bind(command, name, value);
            var rows = new List<T>();
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (rows.Count < limit && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var row = map(reader);
                    if (keep(row))
                        rows.Add(row);
                }
            }
            return rows;
        }
        finally
        {
            session.Return(command);
        }
    }

    private static TripletEntry ReadTriplet(DbDataReader reader) => new(
        new Triplet(reader.GetString(0), reader.GetString(1), reader.GetString(2)),
        (TripletState)reader.GetInt64(3),
        Time(reader.GetInt64(4)),
        Time(reader.GetInt64(5)),
        Time(reader.GetInt64(6)),
        (int)Math.Min(reader.GetInt64(7), int.MaxValue));

    private static AutoWhitelistEntry ReadAutoWhitelist(DbDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        (int)Math.Min(reader.GetInt64(2), int.MaxValue),
        Time(reader.GetInt64(3)),
        Time(reader.GetInt64(4)),
        Time(reader.GetInt64(5)));

    private static DateTimeOffset Time(long unixSeconds) => DateTimeOffset.FromUnixTimeSeconds(unixSeconds);

    private static Task<int> WriteTripletAsync(StoreSession session, string sql, TripletEntry entry, CancellationToken cancellationToken) =>
        ExecuteAsync(session, sql, cancellationToken,
            ("@client", entry.Triplet.Client), ("@sender", entry.Triplet.Sender), ("@recipient", entry.Triplet.Recipient),
            ("@sender_domain", entry.Triplet.SenderDomain), ("@state", (long)entry.State),
            ("@first_seen", entry.FirstSeen.ToUnixTimeSeconds()), ("@last_seen", entry.LastSeen.ToUnixTimeSeconds()),
            ("@expires", entry.Expires.ToUnixTimeSeconds()), ("@deferrals", (long)entry.Deferrals));

    private static Task<int> ExecuteAsync(StoreSession session, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
        session.ExecuteAsync(sql, cancellationToken, parameters);

    private Task<AllowIndex> LoadAllowAsync(CancellationToken cancellationToken) =>
        _database.RunAsync(async (session, ct) =>
        {
            // Entries that expire before the next reload are kept; AllowIndex compares their expiry with each check's time.
            var rows = await session.Connection.QueryAsync<AllowRow>(StoreSession.Define(StoreSql.ListAllow, new { now = 0L }, ct)).ConfigureAwait(false);
            return new AllowIndex(rows.Select(row => row.ToEntry()));
        }, cancellationToken);

    /// <summary>A pass known in memory: valid until <c>Expires</c>; read from the database at <c>VerifiedAt</c>; lifetime written up to <c>PersistedAt</c> (Unix seconds).</summary>
    private readonly record struct CachedPass(long Expires, long VerifiedAt, long PersistedAt);

    /// <summary>A lifetime extension waiting for the flush.</summary>
    private readonly record struct Touch(long LastSeen, long Expires);

    private sealed record CheckOutcome(GreylistResult Result, long Expires, IReadOnlyList<(GreylistEvent Event, DateTimeOffset At, TimeSpan Delay)> Events);

    private sealed class AllowRow
    {
        public long Kind { get; set; }
        public string Value { get; set; } = "";
        public string Reason { get; set; } = "";
        public long Created { get; set; }
        public long? Expires { get; set; }

        public GreylistAllowEntry ToEntry() => new((GreylistAllowKind)Kind, Value, Reason, Time(Created),
            Expires is { } expires ? Time(expires) : null);
    }
}
