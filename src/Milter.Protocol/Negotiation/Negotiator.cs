using Milter.Protocol.Commands;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Negotiation;

/// <summary>
/// Turns the MTA's OPTNEG offer and a handler's needs into the filter's OPTNEG answer. A pure
/// function: skip every stage the handler does not use (SMFIP_NO*), do not wait for replies it
/// will never change (SMFIP_NR_*), request only the macros it reads (SETSYMLIST), and never ask
/// for a flag or action the MTA did not offer — sendmail drops a filter that does.
/// </summary>
public static class Negotiator
{
    /// <summary>The newest protocol version we speak (sendmail 8.14+ and Postfix: 6).</summary>
    public const uint MaxVersion = 6;

    /// <summary>The oldest version we accept (sendmail 8.10's).</summary>
    public const uint MinVersion = 2;

    // (stage, flag asking the MTA not to send it, flag asking it not to wait for the reply)
    private static readonly (MilterStages Stage, ProtocolFlags Skip, ProtocolFlags NoReply)[] StageFlags =
    [
        (MilterStages.Connect, ProtocolFlags.NoConnect, ProtocolFlags.NoReplyConnect),
        (MilterStages.Helo, ProtocolFlags.NoHelo, ProtocolFlags.NoReplyHelo),
        (MilterStages.Mail, ProtocolFlags.NoMail, ProtocolFlags.NoReplyMail),
        (MilterStages.Rcpt, ProtocolFlags.NoRcpt, ProtocolFlags.NoReplyRcpt),
        (MilterStages.Data, ProtocolFlags.NoData, ProtocolFlags.NoReplyData),
        (MilterStages.Header, ProtocolFlags.NoHeaders, ProtocolFlags.NoReplyHeader),
        (MilterStages.EndOfHeaders, ProtocolFlags.NoEoh, ProtocolFlags.NoReplyEoh),
        (MilterStages.Body, ProtocolFlags.NoBody, ProtocolFlags.NoReplyBody),
        (MilterStages.Unknown, ProtocolFlags.NoUnknown, ProtocolFlags.NoReplyUnknown),
    ];

    /// <summary>Computes the answer to <paramref name="offer"/>.</summary>
    /// <exception cref="MilterProtocolException">The MTA speaks a version below 2.</exception>
    public static OptionNegotiation Negotiate(OptionNegotiation offer, HandlerRequirements needs)
    {
        if (offer.Version < MinVersion)
            throw new MilterProtocolException(ProtocolViolation.UnsupportedVersion, $"MTA offered protocol version {offer.Version}; at least {MinVersion} is needed");

        var offered = offer.Protocol;
        var wanted = ProtocolFlags.None;
        foreach (var (stage, skip, noReply) in StageFlags)
        {
            if ((needs.Stages & stage) == 0)
                wanted |= skip;
            else if ((needs.Replies & stage) == 0)
                wanted |= noReply;
        }
        // We may answer SKIP to a body chunk when the MTA understands it.
        wanted |= ProtocolFlags.Skip;
        if (needs.HeaderLeadingSpace)
            wanted |= ProtocolFlags.HeaderLeadingSpace;

        var actions = needs.Actions & offer.Actions;
        IReadOnlyDictionary<MacroStage, string>? lists = null;
        if (needs.Macros is { Count: > 0 } macros && (offer.Actions & ActionFlags.SetSymbolList) != 0)
        {
            var d = new Dictionary<MacroStage, string>();
            foreach (var (stage, names) in macros)
            {
                if (names.Count > 0)
                    d[stage] = string.Join(' ', names.Select(MacroListName).Distinct(StringComparer.Ordinal));
            }
            if (d.Count > 0)
            {
                lists = d;
                actions |= ActionFlags.SetSymbolList;
            }
        }

        return new OptionNegotiation(
            Math.Min(offer.Version, MaxVersion),
            actions,
            wanted & offered,
            lists);
    }

    /// <summary>Macro names go into the list with braces for long names (<c>{client_addr}</c>) and bare for one letter (<c>i</c>).</summary>
    private static string MacroListName(string name)
    {
        var bare = name.Length > 2 && name[0] == '{' && name[^1] == '}' ? name[1..^1] : name;
        return bare.Length == 1 ? bare : "{" + bare + "}";
    }
}
