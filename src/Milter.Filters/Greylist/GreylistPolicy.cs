using Milter.Filters.Configuration;

namespace Milter.Filters.Greylist;

/// <summary>
/// The greylisting rules as pure functions of the stored state, the time and the options; the
/// stores run them inside their transactions.
/// <para>The retry window is counted from the first attempt: a retry passes when it comes at least
/// <c>delay</c> and less than <c>retry_window</c> after it (so <c>retry_window</c> must exceed <c>delay</c>).</para>
/// </summary>
public static class GreylistPolicy
{
    /// <summary>
    /// One attempt of <paramref name="triplet"/>, given its stored entry (null: never seen).
    /// New or expired: a pending entry, deferred for <c>delay</c> (passed at once when the delay is zero).
    /// Pending and early: deferred for the time left, first-seen kept (a first sighting after now counts as now). Pending after the delay: passed,
    /// kept <c>pass_lifetime</c>, with how long it waited (<see cref="GreylistResult.Delayed"/>). Passed: passed, lifetime extended from now.
    /// </summary>
    public static GreylistEvaluation Evaluate(Triplet triplet, TripletEntry? entry, DateTimeOffset now, GreylistOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (entry is null || now >= entry.Expires)
        {
            if (options.Delay <= TimeSpan.Zero)
                return Pass(new TripletEntry(triplet, TripletState.Passed, now, now, now + options.PassLifetime, 0), firstPass: true);
            var fresh = new TripletEntry(triplet, TripletState.Pending, now, now, now + options.RetryWindow, 1);
            return Defer(fresh, GreylistRules.New, options.Delay);
        }

        if (entry.State == TripletState.Passed)
            return Pass(entry with { Triplet = triplet, LastSeen = now, Expires = Later(entry.Expires, now + options.PassLifetime) }, firstPass: false);

        // A first sighting after now: the clock was set back since (or another MX host's runs ahead).
        // It counts as now, as the deferral's write records it (DeferralQueue), so the sender is told
        // to wait the delay, not the delay plus the step.
        if (entry.FirstSeen > now)
            entry = entry with { FirstSeen = now, Expires = now + options.RetryWindow };
        var passAt = entry.FirstSeen + options.Delay;
        if (now < passAt)
            return Defer(entry with { Triplet = triplet, LastSeen = now, Deferrals = entry.Deferrals + 1 }, GreylistRules.Early, passAt - now);

        var passed = Pass(entry with { Triplet = triplet, State = TripletState.Passed, LastSeen = now, Expires = now + options.PassLifetime }, firstPass: true);
        return passed with { Result = passed.Result with { Delayed = now - entry.FirstSeen } };
    }

    /// <summary>True when the (client, sender domain) has passed <c>auto_whitelist.after</c> times and its entry is alive. <c>after</c> ≤ 0 turns auto-whitelisting off.</summary>
    public static bool IsWhitelisted(AutoWhitelistEntry? entry, DateTimeOffset now, GreylistOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return entry is not null && options.AutoWhitelist.After > 0 && entry.Passes >= options.AutoWhitelist.After && now < entry.Expires;
    }

    /// <summary>Whether auto-whitelisting applies to this sender at all: never to the null sender, whose bounces any MTA sends.</summary>
    public static bool CountsForAutoWhitelist(Triplet triplet) => !triplet.IsNullSender;

    /// <summary>True when <paramref name="strikes"/> rejections within <c>bypass_ban.within</c> reach <c>bypass_ban.after</c> (≤ 0: never).</summary>
    public static bool ShouldBan(int strikes, GreylistOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.BypassBan.After > 0 && strikes >= options.BypassBan.After;
    }

    private static GreylistEvaluation Pass(TripletEntry entry, bool firstPass) =>
        new(new GreylistResult(entry.Triplet, GreylistAction.Pass, GreylistRules.Passed, TimeSpan.Zero, firstPass), entry);

    private static GreylistEvaluation Defer(TripletEntry entry, string rule, TimeSpan retryAfter) =>
        new(new GreylistResult(entry.Triplet, GreylistAction.Defer, rule, retryAfter), entry);

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
