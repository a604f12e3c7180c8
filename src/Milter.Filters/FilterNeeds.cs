using Milter.Protocol.Negotiation;

namespace Milter.Filters;

/// <summary>What a filter needs from the MTA: the stages it acts on and the macros it reads per stage.</summary>
public sealed record FilterNeeds(MilterStages Stages, IReadOnlyDictionary<MacroStage, IReadOnlyList<string>> Macros)
{
    private readonly MilterStages? _replies;

    /// <summary>
    /// The stages where this filter can answer something other than Continue; defaults to
    /// <see cref="Stages"/>. A stage it only observes lets the MTA skip waiting for the reply.
    /// </summary>
    public MilterStages Replies
    {
        get => _replies ?? Stages;
        init => _replies = value;
    }

    /// <summary>
    /// With <see cref="MilterStages.Header"/>: the headers this filter reads, by name; null (the
    /// default) for every header. Headers no filter reads are not decoded at all.
    /// </summary>
    public IReadOnlyList<string>? HeaderNames { get; init; }

    /// <summary>
    /// The end-of-message changes this filter may make through the <c>IMessageModifier</c> it is
    /// handed at end of message (<see cref="ActionFlags.AddHeaders"/> to add or insert a header, ...);
    /// the chain asks the MTA for them only when a configured filter declares them.
    /// </summary>
    public ActionFlags Actions { get; init; } = ActionFlags.None;

    public static FilterNeeds None { get; } = new(MilterStages.None, new Dictionary<MacroStage, IReadOnlyList<string>>());
}
