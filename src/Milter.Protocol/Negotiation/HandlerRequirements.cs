using System.Text;

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

    private readonly IReadOnlyList<string>? _headerNames;
    private readonly byte[][]? _headerNameBytes;

    /// <summary>
    /// The headers the handler reads, by name (ASCII, any case); null: every header. Any other header
    /// is answered Continue where a reply is due, without being decoded or passed to the handler:
    /// most messages carry a dozen headers and a filter that reads the Subject needs one of them.
    /// </summary>
    public IReadOnlyList<string>? HeaderNames
    {
        get => _headerNames;
        init
        {
            _headerNames = value;
            _headerNameBytes = value?.Select(name => Encoding.ASCII.GetBytes(name)).ToArray();
        }
    }

    /// <summary>Whether the HEADER payload <paramref name="payload"/> (name NUL value NUL) carries a header in <see cref="HeaderNames"/>.</summary>
    public bool WantsHeader(ReadOnlySpan<byte> payload)
    {
        if (_headerNameBytes is null)
            return true;
        var end = payload.IndexOf((byte)0);
        var name = end < 0 ? payload : payload[..end];
        foreach (var wanted in _headerNameBytes)
        {
            if (Ascii.EqualsIgnoreCase(name, wanted))
                return true;
        }
        return false;
    }

    /// <summary>Everything: every stage, every reply awaited, no macro list.</summary>
    public static HandlerRequirements Everything { get; } = new();
}
