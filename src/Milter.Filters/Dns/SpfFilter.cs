using System.Net;
using Milter.Filters.Ban;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Stores;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Filters.Dns;

/// <summary>
/// The <c>spf</c> section: SPF (RFC 7208) of the MAIL FROM domain, or of the HELO name for the
/// null sender, looked up with the message's other DNS lookups from MAIL on (<see cref="DnsChecks"/>).
/// With <c>reject_fail</c>, a <c>fail</c> is refused at RCPT with <c>550 5.7.23</c> (RFC 7372), per
/// recipient, after relay, ban, recipient and DNS list checks and before greylisting, so a refused
/// message is never greylisted; softfail, neutral, none, errors and no answer in time never refuse.
/// Never refused: local submissions, trusted clients (<c>relay.allow_clients</c>), authenticated
/// sessions, and recipients in <c>exempt_recipients</c> (postmaster by default). With
/// <c>add_header</c>, the result is prepended as <c>Received-SPF</c> at end of message, and every
/// <c>Received-SPF</c> the message arrived with that names this host is removed.
/// </summary>
public sealed class SpfFilter : IMilterFilter
{
    /// <summary>The rule id of a refusal.</summary>
    public const string FailRule = "spf:fail";

    private static readonly StateKey<IncomingHeaders> HeadersKey = new("spf.headers");

    private readonly SpfOptions _options;
    private readonly DnsChecks _checks;
    private readonly AddressPattern[] _exempt;
    private readonly TraceStamp _stamp;

    /// <param name="stamp">Who the header names as receiver; null: <see cref="TraceStamp.Local"/>.</param>
    /// <exception cref="FormatException">An <c>exempt_recipients</c> pattern does not compile.</exception>
    public SpfFilter(SpfOptions options, DnsChecks checks, TraceStamp? stamp = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(checks);
        _options = options;
        _checks = checks;
        _exempt = [.. options.ExemptRecipients.Select(AddressPattern.Parse)];
        _stamp = stamp ?? TraceStamp.Local;
        if (!options.IsOn)
        {
            Needs = FilterNeeds.None;
            return;
        }
        // MAIL only starts the lookups; the header stage only watches for forged Received-SPF.
        var stages = MilterStages.Mail;
        var macros = new Dictionary<MacroStage, IReadOnlyList<string>>();
        if (options.RejectFail)
            stages |= MilterStages.Rcpt;
        if (options.AddHeader)
        {
            stages |= MilterStages.Header | MilterStages.EndOfMessage;
            macros[MacroStage.Connect] = [TraceStamp.HostMacro];
        }
        Needs = new FilterNeeds(stages, macros)
        {
            Replies = options.RejectFail ? MilterStages.Rcpt : MilterStages.None,
            HeaderNames = options.AddHeader ? [ReceivedSpf.HeaderName] : null,
            Actions = options.AddHeader ? HeaderChanges.Needed : ActionFlags.None,
        };
    }

    public string Name => FilterNames.Spf;

    public FilterNeeds Needs { get; }

    /// <summary>The reply to a fail: <c>550 5.7.23 SPF fail: DOMAIN does not permit IP to send its mail</c>.</summary>
    public static SmtpReply ReplyFor(SpfCheck check, IPAddress client)
    {
        ArgumentNullException.ThrowIfNull(check);
        ArgumentNullException.ThrowIfNull(client);
        var what = check.OfHelo ? $"the HELO name {check.Domain}" : check.Domain;
        return new SmtpReply(550, "5.7.23", $"SPF fail: {what} does not permit {(client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client)} to send its mail");
    }

    public ValueTask<Verdict> OnMailAsync(SessionContext session, CancellationToken cancellationToken) => _checks.StartAtMail(session);

    public async ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(recipient);
        if (!_options.RejectFail || _checks.IsOurs(session) || AddressPattern.AnyMatches(_exempt, recipient.Address))
            return Verdict.Continue;
        var facts = await _checks.GetAsync(session, cancellationToken).ConfigureAwait(false);
        return facts.Spf is { Result: SpfResult.Fail } check
            ? Verdict.Reject(ReplyFor(check, session.ClientAddress!), FailRule)
            : Verdict.Continue;
    }

    /// <summary>Notes which <c>Received-SPF</c> headers of the message claim this host, by their place among that header's copies.</summary>
    public ValueTask<Verdict> OnHeaderAsync(SessionContext session, string name, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        if (!_options.AddHeader || !name.Equals(ReceivedSpf.HeaderName, StringComparison.OrdinalIgnoreCase))
            return ValueTask.FromResult(Verdict.Continue);
        var seen = StateOf(session);
        seen.Count++;
        if (ReceivedSpf.ClaimsHost(value, host => _stamp.IsOwnHost(session, host)))
            seen.Forged.Add(seen.Count);
        return ValueTask.FromResult(Verdict.Continue);
    }

    /// <summary>Removes the forged <c>Received-SPF</c> headers and prepends ours.</summary>
    public async ValueTask<Verdict> OnEndOfMessageAsync(SessionContext session, IMessageModifier modifier, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(modifier);
        if (!_options.AddHeader || !HeaderChanges.Granted(modifier))
            return Verdict.Continue;
        if (session.MessageState.TryGet(HeadersKey, out var seen))
        {
            // Last first: whether or not the MTA counts a removed header, the earlier indexes stay put.
            for (var i = seen.Forged.Count - 1; i >= 0; i--)
                modifier.ChangeHeader((uint)seen.Forged[i], ReceivedSpf.HeaderName, "");
        }
        if (_checks.IsOurs(session))
            return Verdict.Continue;
        var facts = await _checks.GetAsync(session, cancellationToken).ConfigureAwait(false);
        if (facts.Spf is { } check)
            modifier.InsertHeader(0, ReceivedSpf.HeaderName, ReceivedSpf.Value(check, session.ClientAddress!, session.Sender ?? "", session.Helo, _stamp.HostOf(session)));
        return Verdict.Continue;
    }

    private static IncomingHeaders StateOf(SessionContext session) => session.MessageState.GetOrAdd(HeadersKey, static () => new IncomingHeaders());

    /// <summary>The message's <c>Received-SPF</c> headers: how many, and the 1-based places of those that claim this host.</summary>
    private sealed class IncomingHeaders
    {
        public int Count { get; set; }

        public List<int> Forged { get; } = [];
    }
}
