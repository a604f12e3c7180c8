using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Relay;
using Milter.Filters.Stores;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Filters.Ban;

/// <summary>
/// The ban rules and the dynamic ban list. Each rule is checked at its stage (docs/design.md, "Order of
/// checks"): CONNECT the dynamic ban list, then <c>client</c>, then <c>client_name</c> rules; HELO
/// <c>helo</c>; MAIL <c>sender</c>; RCPT <c>recipient</c> (that recipient only; sender and
/// recipient rules hold for every spelling of the address, see <see cref="MailboxSpellings"/>); end of headers
/// <c>subject</c> on the decoded Subject. Within a kind the first rule in file order wins.
/// A <c>discard</c> rule that matches at CONNECT or HELO takes effect at each MAIL of the
/// session, since the MTA can only discard a message.
/// </summary>
public sealed class BanFilter : IMilterFilter
{
    /// <summary>The rule id of a refusal from the dynamic ban list.</summary>
    public const string DynamicBanRule = "dynamic-ban";

    public static SmtpReply DefaultRejectReply { get; } = new(550, "5.7.1", "Access denied");
    public static SmtpReply DefaultTempfailReply { get; } = new(451, "4.7.1", "Try again later");

    private const string StateKey = FilterNames.Ban;
    private static readonly StateKey<Verdict> DeferredDiscardKey = new("ban.discard");

    private readonly IDynamicBanStore? _dynamicBans;
    private readonly TimeProvider _time;
    // The exact local domains: an unqualified recipient ("former") is the local user at each of them.
    private readonly string[] _localDomains;
    // The rules of each kind in file order, indexed by the kind (arrays: enumerated on every message without allocating).
    private readonly CompiledRule[][] _rules;

    /// <param name="rules">The <c>ban:</c> rules in file order.</param>
    /// <param name="dynamicBans">The dynamic ban list, or null for none.</param>
    /// <param name="time">The clock the dynamic ban list is read with.</param>
    /// <param name="localDomains">The local domains, to qualify an unqualified recipient; null: none.</param>
    /// <exception cref="FormatException">A rule has a bad pattern or reply; the message names the rule.</exception>
    public BanFilter(IReadOnlyList<BanRule> rules, IDynamicBanStore? dynamicBans, TimeProvider time, LocalDomains? localDomains = null)
    {
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(time);
        _dynamicBans = dynamicBans;
        _time = time;
        _localDomains = [.. (localDomains ?? LocalDomains.None).Entries.Where(d => d[0] != '.')];
        var compiled = rules.Select(Compile).ToList();
        _rules = [.. Enum.GetValues<BanKind>().Select(kind => compiled.Where(r => r.Kind == kind).ToArray())];
        Needs = ComputeNeeds();
    }

    public string Name => StateKey;

    public FilterNeeds Needs { get; }

    public async ValueTask<Verdict> OnConnectAsync(SessionContext session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.ClientAddress is { } address)
        {
            if (_dynamicBans is not null
                && await _dynamicBans.FindAsync(address, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false) is not null)
                return Verdict.Reject(DefaultRejectReply, DynamicBanRule);
            if (First(BanKind.Client, address, static (r, a) => r.Network!.Value.Contains(a)) is { } byAddress)
                return SessionVerdict(session, byAddress);
        }
        if (session.ClientName is { } name && Has(BanKind.ClientName) && First(BanKind.ClientName, name.TrimEnd('.'), static (r, n) => r.Glob!.IsMatch(n)) is { } byName)
            return SessionVerdict(session, byName);
        return default;
    }

    public ValueTask<Verdict> OnHeloAsync(SessionContext session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.Helo is { } helo && Has(BanKind.Helo) && First(BanKind.Helo, helo.Trim().TrimEnd('.'), static (r, h) => r.Glob!.IsMatch(h)) is { } rule)
            return ValueTask.FromResult(SessionVerdict(session, rule));
        return default;
    }

    public ValueTask<Verdict> OnMailAsync(SessionContext session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.SessionState.TryGet(DeferredDiscardKey, out var deferred))
            return ValueTask.FromResult(deferred);
        if (session.Sender is { } sender && Has(BanKind.Sender) && First(BanKind.Sender, MailboxSpellings(sender, RecipientAddress.Parse(sender)), static (r, spellings) => Matches(r, spellings)) is { } rule)
            return ValueTask.FromResult(rule.Verdict);
        return default;
    }

    public ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        if (Has(BanKind.Recipient) && First(BanKind.Recipient, MailboxSpellings(recipient.Address, recipient.Parsed), static (r, spellings) => Matches(r, spellings)) is { } rule)
            return ValueTask.FromResult(rule.Verdict);
        return default;
    }

    /// <summary>
    /// The address (a recipient or the sender) as written and as the mailbox it names (parsed as the
    /// relay check parses it): unquoted, without its <c>+detail</c>, and, when unqualified, at each
    /// local domain. A rule on <c>former@example.com</c> then holds for <c>former+x@</c>,
    /// <c>"former"@</c> and plain <c>former</c> too. A routed address is left as written: it is
    /// nobody's mailbox here. Where sendmail reads another mailbox out of the text than the text
    /// (comments, words around the angle brackets, a source route: <see cref="RecipientAddress.Mailbox"/>),
    /// that mailbox and its spellings count too: <c>&lt;spammer(x)@example.com&gt;</c> is spammer's mail.
    /// </summary>
    private List<string> MailboxSpellings(string written, RecipientAddress address)
    {
        var spellings = new List<string>(4) { written };
        AddSpellings(spellings, address);
        // From the text Parse already took out of its angle brackets: nothing more is allocated when
        // sendmail reads the address as written, the usual case, once per sender and recipient.
        var mailbox = RecipientAddress.Mailbox(address.Written);
        if (!string.Equals(mailbox, address.Written, StringComparison.Ordinal))
        {
            spellings.Add(mailbox);
            AddSpellings(spellings, RecipientAddress.Parse(mailbox));
        }
        return spellings;
    }

    private void AddSpellings(List<string> spellings, RecipientAddress address)
    {
        if (address.IsRouted)
            return;
        var baseLocal = address.BaseLocalPart;
        if (address.Domain is { } domain)
        {
            AddSpellings(spellings, address.LocalPart, baseLocal, domain);
            return;
        }
        foreach (var d in _localDomains)
            AddSpellings(spellings, address.LocalPart, baseLocal, d);
        AddSpellings(spellings, address.LocalPart, baseLocal, "");
    }

    // local@domain and base@domain (or the bare local parts for ""), each once, the written form included:
    // most addresses are written as their mailbox, so no new string is made for them.
    private static void AddSpellings(List<string> spellings, string local, string baseLocal, string domain)
    {
        Add(spellings, local, domain);
        if (!ReferenceEquals(baseLocal, local))
            Add(spellings, baseLocal, domain);

        static void Add(List<string> spellings, string local, string domain)
        {
            foreach (var s in spellings)
            {
                if (domain.Length == 0 ? s.Equals(local, StringComparison.OrdinalIgnoreCase) : IsSpelling(s, local, domain))
                    return;
            }
            spellings.Add(domain.Length == 0 ? local : string.Concat(local, "@", domain));
        }

        static bool IsSpelling(string s, string local, string domain) =>
            s.Length == local.Length + 1 + domain.Length && s[local.Length] == '@'
            && s.AsSpan(0, local.Length).Equals(local, StringComparison.OrdinalIgnoreCase)
            && s.AsSpan(local.Length + 1).Equals(domain, StringComparison.OrdinalIgnoreCase);
    }

    private static bool Matches(CompiledRule rule, List<string> spellings)
    {
        foreach (var spelling in spellings)
        {
            if (MatchesWithin(rule, spelling, static (r, s) => r.Address!.Matches(s)))
                return true;
        }
        return false;
    }

    // A backtracking regex that runs out of time fails the filter (answered per on_error) with the rule named.
    private static bool MatchesWithin(CompiledRule rule, string value, Func<CompiledRule, string, bool> matches)
    {
        try
        {
            return matches(rule, value);
        }
        catch (RegexMatchTimeoutException ex)
        {
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                $"ban rule {rule.Id} ({KindName(rule.Kind)}: {rule.Pattern}) ran out of time ({ex.MatchTimeout.TotalMilliseconds:0} ms) on {value.Length} characters"), ex);
        }
    }

    public ValueTask<Verdict> OnEndOfHeadersAsync(SessionContext session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.Subject is { } subject && First(BanKind.Subject, subject, static (r, s) => MatchesWithin(r, s, static (rule, value) => rule.Regex!.IsMatch(value))) is { } rule)
            return ValueTask.FromResult(rule.Verdict);
        return default;
    }

    // The value is worked out once by the caller and the test is static: no closure per call, no
    // trimming per rule.
    private CompiledRule? First<T>(BanKind kind, T value, Func<CompiledRule, T, bool> matches)
    {
        foreach (var rule in Rules(kind))
        {
            if (matches(rule, value))
                return rule;
        }
        return null;
    }

    private CompiledRule[] Rules(BanKind kind) => _rules[(int)kind];

    private bool Has(BanKind kind) => Rules(kind).Length > 0;

    // Reject and tempfail at CONNECT/HELO end the session; a discard waits for the messages.
    private static Verdict SessionVerdict(SessionContext session, CompiledRule rule)
    {
        if (rule.Verdict.Kind != VerdictKind.Discard)
            return rule.Verdict;
        session.SessionState.Set(DeferredDiscardKey, rule.Verdict);
        return default;
    }

    private FilterNeeds ComputeNeeds()
    {
        var stages = MilterStages.None;
        var macros = new Dictionary<MacroStage, IReadOnlyList<string>>();
        if (_dynamicBans is not null || Has(BanKind.Client) || Has(BanKind.ClientName))
        {
            stages |= MilterStages.Connect;
            macros[MacroStage.Connect] = ["{client_addr}", "{client_name}"];
        }
        if (Has(BanKind.Helo))
            stages |= MilterStages.Helo;
        var deferredDiscard = Rules(BanKind.Client).Concat(Rules(BanKind.ClientName)).Concat(Rules(BanKind.Helo))
            .Any(r => r.Verdict.Kind == VerdictKind.Discard);
        if (Has(BanKind.Sender) || deferredDiscard)
            stages |= MilterStages.Mail;
        if (Has(BanKind.Recipient))
            stages |= MilterStages.Rcpt;
        var replies = stages;
        // A recipient rule that discards drops that recipient alone: the chain deletes it at end of
        // message (ChainHandler), since a discard answered at RCPT drops the whole message.
        var actions = ActionFlags.None;
        if (Rules(BanKind.Recipient).Any(r => r.Verdict.Kind == VerdictKind.Discard))
        {
            stages |= MilterStages.EndOfMessage;
            actions = ActionFlags.DeleteRecipient;
        }
        if (Has(BanKind.Subject))
        {
            // The chain reads the Subject from the headers; the verdict waits for their end, so
            // the MTA need not wait for a reply to each header.
            stages |= MilterStages.Header | MilterStages.EndOfHeaders;
            replies |= MilterStages.EndOfHeaders;
        }
        return new FilterNeeds(stages, macros) { Replies = replies, HeaderNames = ["Subject"], Actions = actions };
    }

    private static CompiledRule Compile(BanRule rule, int index)
    {
        var id = string.IsNullOrWhiteSpace(rule.Id) ? $"ban#{index + 1}" : rule.Id;
        try
        {
            var verdict = VerdictOf(rule, id);
            return rule.Kind switch
            {
                BanKind.Client => new CompiledRule(rule.Kind, id, verdict, rule.Pattern.Trim()) { Network = ParseNetwork(rule.Pattern) },
                BanKind.ClientName or BanKind.Helo => new CompiledRule(rule.Kind, id, verdict, rule.Pattern.Trim()) { Glob = new Glob(NonEmpty(rule.Pattern).TrimEnd('.')) },
                BanKind.Sender or BanKind.Recipient => new CompiledRule(rule.Kind, id, verdict, rule.Pattern.Trim()) { Address = AddressPattern.Parse(rule.Pattern) },
                BanKind.Subject => new CompiledRule(rule.Kind, id, verdict, rule.Pattern.Trim()) { Regex = SubjectRegex(NonEmpty(rule.Pattern)) },
                _ => throw new FormatException($"unknown ban kind {rule.Kind}"),
            };
        }
        catch (FormatException ex)
        {
            throw new FormatException($"ban rule {id} ({KindName(rule.Kind)}: {rule.Pattern}): {ex.Message}", ex);
        }
    }

    private static Verdict VerdictOf(BanRule rule, string id)
    {
        SmtpReply? reply = null;
        if (rule.Reply is not null && !SmtpReply.TryParse(rule.Reply, out reply))
            throw new FormatException($"reply '{rule.Reply}' is not an SMTP reply such as '550 5.7.1 Go away'");
        switch (rule.Action)
        {
            case BanAction.Reject:
                if (reply is { IsTemporary: true })
                    throw new FormatException($"action reject needs a 5xx reply, not {reply.Code}");
                return Verdict.Reject(reply ?? DefaultRejectReply, id);
            case BanAction.Tempfail:
                if (reply is { IsTemporary: false })
                    throw new FormatException($"action tempfail needs a 4xx reply, not {reply.Code}");
                return Verdict.Tempfail(reply ?? DefaultTempfailReply, id);
            case BanAction.Discard:
                if (reply is not null)
                    throw new FormatException("action discard sends no reply; remove reply:");
                return new Verdict(VerdictKind.Discard, null, id);
            default:
                throw new FormatException($"unknown action {rule.Action}");
        }
    }

    private static IPNetwork ParseNetwork(string text)
    {
        var t = text.Trim();
        if (IPNetwork.TryParse(t, out var network))
            return network;
        if (IPAddress.TryParse(t, out var address))
            return new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        throw new FormatException($"'{text}' is not an IP address or CIDR network (203.0.113.0/24, 2001:db8::/32)");
    }

    // Written as a bare .NET regex ("(?i)cheap meds") or as /regex/flags.
    private static Regex SubjectRegex(string pattern) =>
        pattern.Length > 1 && pattern[0] == '/' && pattern.LastIndexOf('/') > 0
            ? PatternRegex.FromSlashed(pattern)
            : PatternRegex.Create(pattern, RegexOptions.None);

    private static string NonEmpty(string pattern) =>
        string.IsNullOrWhiteSpace(pattern) ? throw new FormatException("empty pattern") : pattern.Trim();

    private static string KindName(BanKind kind) => kind switch
    {
        BanKind.ClientName => "client_name",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private sealed record CompiledRule(BanKind Kind, string Id, Verdict Verdict, string Pattern)
    {
        public IPNetwork? Network { get; init; }
        public Glob? Glob { get; init; }
        public AddressPattern? Address { get; init; }
        public Regex? Regex { get; init; }
    }
}
