namespace Milter.Filters.Stats;

/// <summary>One row of the decision tally: a minute (Unix seconds), who decided what, about whom.</summary>
/// <param name="Network">The client's /24 (IPv4) or /64 (IPv6); empty for a local submission.</param>
/// <param name="SenderDomain">The envelope sender's domain; empty for the null sender or before MAIL.</param>
internal readonly record struct DecisionKey(long Minute, string Filter, string Verdict, string Rule, string Network, string SenderDomain)
    : IComparable<DecisionKey>
{
    /// <summary>By minute, then each text ordinally: the order every host writes the rows in.</summary>
    public int CompareTo(DecisionKey other)
    {
        var c = Minute.CompareTo(other.Minute);
        if (c == 0)
            c = string.CompareOrdinal(Filter, other.Filter);
        if (c == 0)
            c = string.CompareOrdinal(Verdict, other.Verdict);
        if (c == 0)
            c = string.CompareOrdinal(Rule, other.Rule);
        if (c == 0)
            c = string.CompareOrdinal(Network, other.Network);
        return c != 0 ? c : string.CompareOrdinal(SenderDomain, other.SenderDomain);
    }
}

/// <summary>One row of the greylist tally: a minute, an event, and for <see cref="GreylistEvent.Passed"/> the seconds waited.</summary>
internal readonly record struct GreylistKey(long Minute, GreylistEvent Event, long Delay) : IComparable<GreylistKey>
{
    /// <summary>By minute, event, delay: the order every host writes the rows in.</summary>
    public int CompareTo(GreylistKey other)
    {
        var c = Minute.CompareTo(other.Minute);
        if (c == 0)
            c = Event.CompareTo(other.Event);
        return c != 0 ? c : Delay.CompareTo(other.Delay);
    }
}
