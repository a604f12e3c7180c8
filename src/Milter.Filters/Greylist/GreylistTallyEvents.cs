using Milter.Filters.Stats;

namespace Milter.Filters.Greylist;

/// <summary>What a check or a sweep did to a triplet, as events of the greylist tally.</summary>
internal static class GreylistTallyEvents
{
    /// <summary>What a check did to the triplet (reported once its write is committed or queued).</summary>
    public static List<(GreylistEvent Event, DateTimeOffset At, TimeSpan Delay)> Of(TripletEntry? before, GreylistResult result, DateTimeOffset now)
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
    public static GreylistEvent Abandoned(long deferrals) => deferrals > 1 ? GreylistEvent.GaveUp : GreylistEvent.NeverRetried;

    public static void Report(DecisionTally? tally, IReadOnlyList<(GreylistEvent Event, DateTimeOffset At, TimeSpan Delay)> events)
    {
        if (tally is null)
            return;
        foreach (var (greylistEvent, when, delay) in events)
            tally.OnGreylist(greylistEvent, when, delay);
    }
}
