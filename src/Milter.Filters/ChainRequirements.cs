using Milter.Protocol.Negotiation;

namespace Milter.Filters;

/// <summary>Turns the filters' needs into what the chain asks the MTA for at OPTNEG.</summary>
internal static class ChainRequirements
{
    // The chain itself fills SessionContext from these, whatever the filters ask for: the client
    // at CONNECT, the HELO name, the sender and message reset at MAIL, the accepted recipients.
    private const MilterStages Always =
        MilterStages.Connect | MilterStages.Helo | MilterStages.Mail | MilterStages.Rcpt | MilterStages.EndOfMessage;

    // IMilterFilter has no body or unknown-command callback, so those are never worth a round trip.
    private const MilterStages Callable = MilterStages.All & ~(MilterStages.Body | MilterStages.Unknown);

    /// <summary>Macros SessionContext and the decision log line read: client, login, queue id, mailer.</summary>
    internal static readonly IReadOnlyDictionary<MacroStage, IReadOnlyList<string>> ChainMacros =
        new Dictionary<MacroStage, IReadOnlyList<string>>
        {
            [MacroStage.Connect] = ["{client_addr}", "{client_name}"],
            [MacroStage.EnvFrom] = ["i", "{auth_authen}"],
            // Postfix knows the queue id only after MAIL; ask again where it can appear.
            [MacroStage.EnvRcpt] = ["i", "{rcpt_mailer}"],
            [MacroStage.EndOfMessage] = ["i"],
        };

    public static HandlerRequirements Compute(IReadOnlyList<IMilterFilter> filters)
    {
        var stages = MilterStages.None;
        var replies = MilterStages.None;
        var actions = ActionFlags.None;
        var macros = new SortedDictionary<MacroStage, SortedSet<string>>();
        Merge(macros, ChainMacros);
        // The chain reads the Subject itself (SessionContext.Subject) for whoever asks for headers.
        SortedSet<string>? headers = new(StringComparer.OrdinalIgnoreCase) { "Subject" };
        foreach (var filter in filters)
        {
            var needs = filter.Needs;
            stages |= needs.Stages;
            replies |= needs.Replies & needs.Stages;
            actions |= needs.Actions;
            Merge(macros, needs.Macros);
            if ((needs.Stages & MilterStages.Header) != 0)
            {
                if (needs.HeaderNames is null)
                    headers = null;
                else
                    headers?.UnionWith(needs.HeaderNames);
            }
        }
        stages = (stages & Callable) | Always;
        return new HandlerRequirements
        {
            Stages = stages,
            Replies = replies & stages,
            Actions = actions,
            Macros = macros.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)[.. kv.Value]),
            HeaderNames = headers is null ? null : [.. headers],
        };
    }

    private static void Merge(SortedDictionary<MacroStage, SortedSet<string>> into, IReadOnlyDictionary<MacroStage, IReadOnlyList<string>> from)
    {
        foreach (var (stage, names) in from)
        {
            if (!into.TryGetValue(stage, out var set))
                into[stage] = set = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var name in names)
                set.Add(Canonical(name));
        }
    }

    // sendmail wants long names in braces and one-letter names bare: "{client_addr}", "i".
    private static string Canonical(string name)
    {
        var bare = name.Length > 2 && name[0] == '{' && name[^1] == '}' ? name[1..^1] : name;
        return bare.Length == 1 ? bare : "{" + bare + "}";
    }
}
