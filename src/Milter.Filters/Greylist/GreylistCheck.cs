using System.Net;
using Milter.Filters.Configuration;
using Milter.Filters.Stats;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The greylist's check path: the allow list and the pass cache from memory, else a read (a
/// connection of its own, never behind a write or a sweep) with the deferrals not yet written counted
/// in; a deferral is answered and queued (<see cref="DeferralQueue"/>), a first pass written durably
/// before it is answered (<see cref="FirstPassWriter"/>).
/// </summary>
public sealed class GreylistCheck : IGreylistCheck
{
    private readonly StoreDatabase _database;
    private readonly GreylistAllowList _allow;
    private readonly PassCache _passes;
    private readonly DeferralQueue _deferrals;
    private readonly FirstPassWriter _firstPass;
    private readonly DecisionTally? _tally;
    private readonly GreylistKeyFilter? _keys;

    internal GreylistCheck(StoreDatabase database, GreylistAllowList allow, PassCache passes, DeferralQueue deferrals, DecisionTally? tally,
        GreylistKeyFilter? keys)
    {
        _keys = keys;
        _database = database;
        _allow = allow;
        _passes = passes;
        _deferrals = deferrals;
        _firstPass = new FirstPassWriter(database);
        _tally = tally;
    }

    public Task<GreylistResult> CheckAsync(Triplet triplet, IPAddress? clientAddress, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken) =>
        CheckCoreAsync(triplet, clientAddress, now, options, record: true, cancellationToken);

    public async Task UncountAutoWhitelistPassAsync(Triplet triplet, CancellationToken cancellationToken)
    {
        await _database.WriteAsync((session, ct) => GreylistRows.UncountPassAsync(session, triplet.Client, triplet.SenderDomain, ct), cancellationToken,
            mayRelax: true).ConfigureAwait(false);
        // The count may have fallen below auto_whitelist.after: a whitelisted entry cached since (a
        // later recipient of the same message read the count this pass made) must be read again.
        _passes.ForgetAutoWhitelist(triplet.Client, triplet.SenderDomain);
    }

    /// <summary>What <see cref="CheckAsync"/> would answer, changing nothing (<c>simulate</c> without <c>--record</c>).</summary>
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

        // Before anything is read: a pass read before a removal that the change poll saw is not cached.
        var epoch = _passes.Epoch;
        if (_passes.TryHit(triplet, seconds, options, record, epoch, out var cached))
            return cached;

        var awlApplies = options.AutoWhitelist.After > 0 && GreylistPolicy.CountsForAutoWhitelist(triplet);
        var keys = _keys is null ? default : GreylistKeyFilter.HashesOf(triplet);
        var (awl, entry) = await ReadStateAsync(triplet, keys, awlApplies, cancellationToken).ConfigureAwait(false);
        if (awlApplies && GreylistPolicy.IsWhitelisted(awl, at, options))
        {
            if (record)
                _passes.ExtendWhitelisted(triplet, awl!, seconds, seconds + (long)options.AutoWhitelist.Lifetime.TotalSeconds, epoch);
            return new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Whitelisted, TimeSpan.Zero);
        }
        var evaluation = GreylistPolicy.Evaluate(triplet, entry, at, options);
        if (!record)
            return evaluation.Result;

        if (evaluation.Result.Action == GreylistAction.Defer)
        {
            _keys?.AddTriplet(keys);
            await _deferrals.AddAsync(triplet, at, options, evaluation.Entry, cancellationToken).ConfigureAwait(false);
            GreylistTallyEvents.Report(_tally, GreylistTallyEvents.Of(entry, evaluation.Result, at));
            await _deferrals.ThrottleAsync(cancellationToken).ConfigureAwait(false);
            return evaluation.Result;
        }
        if (!evaluation.Result.FirstPass)
        {
            // Passed before: a cache entry as a hit would leave it, the new lifetime written later.
            _passes.ExtendPassed(entry!, seconds, evaluation.Entry.Expires.ToUnixTimeSeconds(), epoch);
            return evaluation.Result;
        }

        // A new pass must be durable before it is answered: decided again inside a write transaction,
        // after this triplet's earlier attempts have been written.
        if (_deferrals.Unwritten(triplet) is not null)
            await _deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        if (_keys is not null)
        {
            _keys.AddTriplet(keys);
            _keys.AddAutoWhitelist(keys);
        }
        var outcome = await _firstPass.DecideAsync(triplet, at, options, cancellationToken).ConfigureAwait(false);
        GreylistTallyEvents.Report(_tally, outcome.Events);
        if (outcome.Result.Passes)
            _passes.Remember(triplet, outcome.Result.Rule == GreylistRules.Whitelisted, outcome.Expires, seconds, epoch);
        return outcome.Result;
    }

    /// <summary>
    /// The auto-whitelist entry (when it applies) and the triplet's row as a check must see them: the
    /// database's, unless an answered attempt is still waiting to be written, with lifetime
    /// extensions still waiting for the flush counted in. No read when the key filter knows that
    /// neither row exists (a triplet never seen).
    /// </summary>
    private async Task<(AutoWhitelistEntry? Awl, TripletEntry? Entry)> ReadStateAsync(Triplet triplet, KeyHashes keys, bool awlApplies,
        CancellationToken cancellationToken)
    {
        var unwritten = _deferrals.Unwritten(triplet);
        AutoWhitelistEntry? awl = null;
        var entry = unwritten;
        if ((awlApplies || unwritten is null) && _keys?.SurelyAbsent(keys, triplet: unwritten is null, autoWhitelist: awlApplies) != true)
        {
            var read = await _database.ReadAsync((session, ct) => GreylistRows.ReadBothAsync(session, triplet, ct), cancellationToken).ConfigureAwait(false);
            awl = awlApplies ? read.Awl : null;
            entry = unwritten ?? read.Entry;
        }
        return _passes.WithPendingTouches(triplet, awl, entry);
    }
}
