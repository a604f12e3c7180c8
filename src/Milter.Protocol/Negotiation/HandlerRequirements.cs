namespace Milter.Protocol.Negotiation;

/// <summary>
/// What a handler needs from the MTA; the negotiator turns it into the OPTNEG reply.
/// </summary>
public sealed record HandlerRequirements
{
    /// <summary>Stages whose callbacks the handler uses; every other stage is negotiated away (SMFIP_NO*).</summary>
    public MilterStages Stages { get; init; } = MilterStages.All;

    /// <summary>
    /// Stages whose reply can be something other than Continue. For the others the MTA is told not to
    /// wait (SMFIP_NR_*), where it offers that.
    /// </summary>
    public MilterStages Replies { get; init; } = MilterStages.All;

    /// <summary>End-of-message actions the handler may take (SMFIF_*).</summary>
    public ActionFlags Actions { get; init; } = ActionFlags.None;

    /// <summary>
    /// Macros to request per stage (SETSYMLIST). Null: ask for nothing and take what the MTA sends.
    /// </summary>
    public IReadOnlyDictionary<MacroStage, IReadOnlyList<string>>? Macros { get; init; }

    /// <summary>Ask for header values byte-exact with their leading space (SMFIP_HDR_LEADSPC).</summary>
    public bool HeaderLeadingSpace { get; init; }

    /// <summary>Everything: every stage, every reply awaited, no macro list.</summary>
    public static HandlerRequirements Everything { get; } = new();
}
