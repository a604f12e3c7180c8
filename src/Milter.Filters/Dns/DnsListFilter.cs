using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Filters.Dns;

/// <summary>
/// The <c>dns_lists</c>: starts the message's DNS lookups at MAIL and answers at RCPT, for every
/// recipient, after relay, ban and recipient checks. The first list in configuration order that
/// lists the client decides: <c>reject</c> answers <c>554 5.7.1 Listed at ZONE (CODE)</c>,
/// <c>tempfail</c> <c>451 4.7.1 ...</c>, and <c>skip_greylist</c> refuses nothing (the greylist
/// passes the message). RCPT rather than CONNECT because sendmail turns a refused CONNECT into a
/// bare 554 greeting, and the sender should read which list it is on. Relay clients and
/// authenticated sessions are never looked up.
/// </summary>
public sealed class DnsListFilter : IMilterFilter
{
    private readonly DnsChecks _checks;

    public DnsListFilter(DnsChecks checks)
    {
        ArgumentNullException.ThrowIfNull(checks);
        _checks = checks;
        // MAIL only starts the lookups, so the MTA need not wait for that answer.
        Needs = _checks.Lists.Count > 0
            ? new FilterNeeds(MilterStages.Mail | MilterStages.Rcpt, new Dictionary<MacroStage, IReadOnlyList<string>>()) { Replies = MilterStages.Rcpt }
            : FilterNeeds.None;
    }

    public string Name => FilterNames.DnsLists;

    public FilterNeeds Needs { get; }

    /// <summary>The reply for a listing in a <c>reject</c> or <c>tempfail</c> list.</summary>
    public static SmtpReply ReplyFor(DnsListing listing)
    {
        ArgumentNullException.ThrowIfNull(listing);
        var text = $"Listed at {listing.List.Zone} ({listing.Code})";
        return listing.List.Action == DnsListAction.Tempfail ? new SmtpReply(451, "4.7.1", text) : new SmtpReply(554, "5.7.1", text);
    }

    public ValueTask<Verdict> OnMailAsync(SessionContext session, CancellationToken cancellationToken) => _checks.StartAtMail(session);

    public async ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_checks.Lists.Count == 0)
            return Verdict.Continue;
        var facts = await _checks.GetAsync(session, cancellationToken).ConfigureAwait(false);
        return facts.DecidingListing switch
        {
            null or { List.Action: DnsListAction.SkipGreylist } => Verdict.Continue,
            { List.Action: DnsListAction.Tempfail } listing => Verdict.Tempfail(ReplyFor(listing), listing.List.Rule),
            var listing => Verdict.Reject(ReplyFor(listing), listing.List.Rule),
        };
    }
}
