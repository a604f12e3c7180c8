namespace Milter.Filters.Stats;

// The tally tables as Dapper reads and writes them: columns and parameters bound by name.

/// <summary>The parameters of <see cref="Stores.StoreSql.AddDecisionTally"/>: one more <paramref name="N"/> in a row.</summary>
internal sealed record DecisionTallyWrite(long Minute, string Filter, string Verdict, string Rule, string Network, string SenderDomain, long N,
    CancellationToken Cancel)
{
    public DecisionTallyWrite(DecisionKey key, long n, CancellationToken cancel)
        : this(key.Minute, key.Filter, key.Verdict, key.Rule, key.Network, key.SenderDomain, n, cancel)
    {
    }
}

/// <summary>The parameters of <see cref="Stores.StoreSql.AddGreylistTally"/>.</summary>
internal sealed record GreylistTallyWrite(long Minute, string Event, long Delay, long N, CancellationToken Cancel);

/// <summary>The window [<paramref name="From"/>, <paramref name="To"/>) of a tally read, in Unix seconds.</summary>
internal sealed record TallyWindowArgs(long From, long To, CancellationToken Cancel);

/// <summary>A top list of the window [<paramref name="From"/>, <paramref name="To"/>): its first <paramref name="Limit"/> rows.</summary>
internal sealed record TallyTopArgs(long From, long To, long Limit, CancellationToken Cancel);

/// <summary>A row of <see cref="Stores.StoreSql.DecisionsByHour"/>: the hour in Unix seconds.</summary>
internal sealed record HourRow(long Hour, string Verdict, long Count);

/// <summary>A row of <see cref="Stores.StoreSql.GreylistEvents"/>.</summary>
internal sealed record GreylistEventRow(string Event, long Delay, long Count);

/// <summary>Tally rows of minutes before <paramref name="Before"/> (Unix seconds), at most <paramref name="Batch"/> per statement.</summary>
internal sealed record TallySweepArgs(long Before, long Batch, CancellationToken Cancel);
