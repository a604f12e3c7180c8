using Milter.Protocol.Negotiation;

namespace Milter.Filters;

/// <summary>What a filter needs from the MTA: the stages it acts on and the macros it reads per stage.</summary>
public sealed record FilterNeeds(MilterStages Stages, IReadOnlyDictionary<MacroStage, IReadOnlyList<string>> Macros)
{
    public static FilterNeeds None { get; } = new(MilterStages.None, new Dictionary<MacroStage, IReadOnlyList<string>>());
}
