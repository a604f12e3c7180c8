using Milter.Filters.Configuration;
using Milter.Filters.Stats;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The durable first pass: an attempt the read says would pass for the first time is decided again
/// inside one write transaction (the triplet row locked, the auto-whitelist counted) that commits,
/// durably, before the answer is returned, so an answered pass survives a power cut and two MX hosts
/// sharing the database pass a triplet once.
/// </summary>
internal sealed class FirstPassWriter(StoreDatabase database)
{
    /// <summary>Decides and records the attempt in one transaction committed before this returns.</summary>
    public Task<Outcome> DecideAsync(Triplet triplet, DateTimeOffset at, GreylistOptions options, CancellationToken cancellationToken) =>
        database.WriteAsync((session, ct) => DecideInTransactionAsync(session, triplet, at, options, ct), cancellationToken, mayRelax: true);

    private async Task<Outcome> DecideInTransactionAsync(StoreSession session, Triplet triplet, DateTimeOffset now, GreylistOptions options,
        CancellationToken cancellationToken)
    {
        var seconds = now.ToUnixTimeSeconds();
        var countsForAwl = GreylistPolicy.CountsForAutoWhitelist(triplet);
        var awlExpires = seconds + (long)options.AutoWhitelist.Lifetime.TotalSeconds;
        if (countsForAwl && options.AutoWhitelist.After > 0)
        {
            var awl = await GreylistRows.ReadAutoWhitelistAsync(session, triplet.Client, triplet.SenderDomain, cancellationToken).ConfigureAwait(false);
            if (GreylistPolicy.IsWhitelisted(awl, now, options))
            {
                await GreylistRows.ExtendAutoWhitelistAsync(session, triplet.Client, triplet.SenderDomain, seconds, awlExpires,
                    cancellationToken).ConfigureAwait(false);
                return new Outcome(new GreylistResult(triplet, GreylistAction.Pass, GreylistRules.Whitelisted, TimeSpan.Zero), awlExpires, []);
            }
        }

        GreylistEvaluation evaluation = null!;
        var before = await GreylistRows.WriteDecidedAsync(session, triplet,
            row => (evaluation = GreylistPolicy.Evaluate(triplet, row, now, options)).Entry, cancellationToken).ConfigureAwait(false);

        // Only a new pass must survive a power cut; losing a first attempt or a retry costs a sender one more delay.
        if (evaluation.Result.FirstPass)
            session.RelaxedCommit = false;
        if (evaluation.Result.FirstPass && countsForAwl && triplet.AddsToAutoWhitelist)
        {
            await GreylistRows.CountPassAsync(session, triplet.Client, triplet.SenderDomain, seconds, awlExpires,
                cancellationToken).ConfigureAwait(false);
        }
        return new Outcome(evaluation.Result, evaluation.Entry.Expires.ToUnixTimeSeconds(), GreylistTallyEvents.Of(before, evaluation.Result, now));
    }

    /// <summary>The answer, the expiry of what passed (Unix seconds), and the tally events to report now that it is committed.</summary>
    internal sealed record Outcome(GreylistResult Result, long Expires, IReadOnlyList<(GreylistEvent Event, DateTimeOffset At, TimeSpan Delay)> Events);
}
