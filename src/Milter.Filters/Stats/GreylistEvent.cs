namespace Milter.Filters.Stats;

/// <summary>What happened to a greylist triplet, as the greylist tally counts it (the status page's funnel).</summary>
public enum GreylistEvent
{
    /// <summary>An unseen (or expired) triplet's first attempt: deferred.</summary>
    FirstAttempt,
    /// <summary>Another attempt of a pending triplet, too early or in time.</summary>
    Retry,
    /// <summary>The retry that passed a triplet; its delay is the time since the first attempt.</summary>
    Passed,
    /// <summary>A pending triplet whose retry window ran out without a single retry.</summary>
    NeverRetried,
    /// <summary>A pending triplet whose retry window ran out after retries that all came too early.</summary>
    GaveUp,
}

/// <summary>The names the events are stored under.</summary>
public static class GreylistEventNames
{
    public static string Of(GreylistEvent e) => e switch
    {
        GreylistEvent.FirstAttempt => "first",
        GreylistEvent.Retry => "retry",
        GreylistEvent.Passed => "passed",
        GreylistEvent.NeverRetried => "never_retried",
        GreylistEvent.GaveUp => "gave_up",
        _ => throw new ArgumentOutOfRangeException(nameof(e), e, null),
    };
}
