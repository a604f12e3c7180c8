using MilterHost.Chain;

namespace CustomFilter;

/// <summary>The <c>max_recipients:</c> section of milterhost.yaml.</summary>
public sealed record MaxRecipientsOptions
{
    /// <summary>Recipients one message may have; the next ones are told to come back in another transaction.</summary>
    public int Max { get; init; } = 50;

    /// <summary>Add <c>X-Recipients: N</c> to each accepted message.</summary>
    public bool AddHeader { get; init; }

    /// <summary>How the keys of the section bind to this record: no reflection, so native AOT works.</summary>
    public static FilterSection<MaxRecipientsOptions> Section { get; } = new FilterSection<MaxRecipientsOptions>(() => new())
        .Integer("max", 1, 100_000, o => o.Max, (o, v) => o with { Max = v })
        .Boolean("add_header", o => o.AddHeader, (o, v) => o with { AddHeader = v });
}
