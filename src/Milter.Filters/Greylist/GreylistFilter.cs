using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Milter.Filters.Ban;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Dns;
using Milter.Filters.Stores;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Filters.Greylist;

/// <summary>
/// Greylisting at RCPT and DATA. Never greylisted: local submissions, clients in
/// <c>relay.allow_clients</c> and <c>greylist.skip.clients</c>, authenticated sessions (while
/// <c>greylist.skip.authenticated</c>), and senders and recipients in <c>greylist.skip</c>.
/// <para>With <c>per_message</c> (the default) every triplet of the message is checked and recorded
/// at RCPT but answered at DATA: if any is new or early the whole message gets <c>451 4.7.1</c>, so
/// a sender never sees some recipients accepted and others deferred, and its retry passes for all
/// of them. Otherwise each recipient is answered at RCPT, except for the null sender, whose
/// bounce is deferred once at DATA.</para>
/// <para>With <see cref="DnsChecks"/> (issue 10), what DNS says about the message, looked up from MAIL
/// on, changes the key or skips the delay: a client listed first by a <c>skip_greylist</c> DNS list
/// passes; with <c>only_suspicious</c>, a client with forward-confirmed reverse DNS and a name that
/// matches no <c>suspicious_names</c> pattern passes (<see cref="GreylistRules.TrustedFcrdns"/>); with
/// <c>spf_pools</c>, a sender domain whose SPF record passes the client, and can only pass a bounded
/// set of hosts (<see cref="SpfPoolBounds"/>: no <c>+all</c>, <c>ptr</c>, <c>exists</c>, wide ranges), makes the triplet's client
/// part <c>spf:DOMAIN</c>, so a retry from any server of the domain's pool passes, and its
/// auto-whitelist entry is kept per domain. No answer in time means the plain subnet triplet.</para>
/// Built per configuration (a reload builds a new one); the store is shared.
/// </summary>
public sealed class GreylistFilter : IMilterFilter
{
    private const string AuthMacro = "{auth_authen}";

    private readonly IGreylistCheck _store;
    private readonly GreylistOptions _options;
    private readonly IReadOnlyList<System.Net.IPNetwork> _trustedClients;
    private readonly AddressPattern[] _skipSenders;
    private readonly AddressPattern[] _skipRecipients;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DnsChecks? _dns;

    /// <exception cref="FormatException">A <c>greylist.skip</c> pattern does not compile (same syntax as ban rules, <see cref="AddressPattern"/>).</exception>
    public GreylistFilter(IGreylistCheck store, GreylistOptions options, IReadOnlyList<IPNetwork> trustedClients, TimeProvider time, ILogger<GreylistFilter> logger)
        : this(store, options, trustedClients, null, time, logger)
    {
    }

    /// <param name="dns">The message's DNS lookups (SPF pools, reverse DNS, DNS lists); null: plain triplets only.</param>
    /// <exception cref="FormatException">A <c>greylist.skip</c> pattern does not compile.</exception>
    /// <param name="trustedClients">Clients never greylisted besides <c>greylist.skip.clients</c>: the relay clients (<c>relay.allow_clients</c>).</param>
    public GreylistFilter(IGreylistCheck store, GreylistOptions options, IReadOnlyList<IPNetwork> trustedClients, DnsChecks? dns, TimeProvider time, ILogger<GreylistFilter> logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(trustedClients);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _store = store;
        _options = options;
        _trustedClients = [.. trustedClients, .. options.Skip.Clients];
        _skipSenders = [.. options.Skip.Senders.Select(AddressPattern.Parse)];
        _skipRecipients = [.. options.Skip.Recipients.Select(AddressPattern.Parse)];
        _time = time;
        _logger = logger;
        _dns = dns is { IsNeeded: true } ? dns : null;
        // MAIL only starts the DNS lookups, so the MTA need not wait for that answer.
        var stages = MilterStages.Rcpt | MilterStages.Data;
        Needs = _options.Enabled
            ? new FilterNeeds(_dns is null ? stages : stages | MilterStages.Mail,
                new Dictionary<MacroStage, IReadOnlyList<string>> { [MacroStage.EnvFrom] = [AuthMacro] })
            {
                // With per_message the RCPT answer is always Continue: the MTA need not wait for it.
                Replies = _options.PerMessage ? MilterStages.Data : stages,
            }
            : FilterNeeds.None;
    }

    public string Name => FilterNames.Greylist;

    /// <summary>RCPT and DATA, and MAIL to start the DNS lookups early.</summary>
    public FilterNeeds Needs { get; }

    public ValueTask<Verdict> OnMailAsync(SessionContext session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_options.Enabled && _dns is not null)
            _dns.Start(session);
        return ValueTask.FromResult(Verdict.Continue);
    }

    public async ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(recipient);
        if (!_options.Enabled)
            return Verdict.Continue;
        if (ExemptionOf(session, recipient.Address) is { } reason)
        {
            GreylistLog.Skipped(_logger, session.QueueId ?? "-", recipient.Address, reason);
            return Verdict.Continue;
        }

        var client = session.ClientAddress!;
        string? spfPool = null;
        if (_dns is not null)
        {
            var facts = await _dns.GetAsync(session, cancellationToken).ConfigureAwait(false);
            if (facts.DecidingListing is { List.Action: DnsListAction.SkipGreylist } allowed)
            {
                GreylistLog.Skipped(_logger, session.QueueId ?? "-", recipient.Address, $"{GreylistRules.DnsAllowList}: {allowed}");
                return Verdict.Continue;
            }
            if (_options.OnlySuspicious && facts.ReverseDns?.TrustedName(_options.SuspiciousNames) is { } name)
            {
                GreylistLog.Skipped(_logger, session.QueueId ?? "-", recipient.Address, $"{GreylistRules.TrustedFcrdns}: {name}");
                return Verdict.Continue;
            }
            spfPool = facts.SpfPoolDomain;
        }
        var clientKey = ClientKey.For(client, spfPool, _options);
        var triplet = Triplet.Create(clientKey, session.Sender, recipient.Address);
        var decideAtData = _options.PerMessage || triplet.IsNullSender;
        GreylistResult result;
        try
        {
            result = await _store.CheckAsync(triplet, client, _time.GetUtcNow(), _options, cancellationToken).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex) when (decideAtData)
        {
            // One decision per message holds for failures too: the chain answers on_error at DATA.
            MessageOf(session).Failure ??= ex;
            return Verdict.Continue;
        }

        if (decideAtData)
        {
            // A debug line: its arguments are formatted only when someone reads it.
            if (_logger.IsEnabled(LogLevel.Debug))
                GreylistLog.Held(_logger, session.QueueId ?? "-", triplet.ToString(), result.Action.ToString(), result.Rule);
            if (!result.Passes)
                MessageOf(session).Deferred.Add(result);
            return Verdict.Continue;
        }
        return result.Passes ? Verdict.Continue : Verdict.Tempfail(GreylistResult.DeferReply(result.RetrySeconds), result.Rule);
    }

    public ValueTask<Verdict> OnDataAsync(SessionContext session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (!session.MessageState.TryGetValue(Name, out var state) || state is not HeldMessage held)
            return ValueTask.FromResult(Verdict.Continue);
        if (held.Failure is { } failure)
            throw new StoreUnavailableException($"greylist: a recipient could not be checked: {failure.Message}", failure);
        if (held.Deferred.Count == 0)
            return ValueTask.FromResult(Verdict.Continue);
        // The longest wait, so that the retry passes for every recipient at once.
        var seconds = held.Deferred.Max(r => r.RetrySeconds);
        var rule = held.Deferred.Any(r => r.Rule == GreylistRules.New) ? GreylistRules.New : GreylistRules.Early;
        return ValueTask.FromResult(Verdict.Tempfail(GreylistResult.DeferReply(seconds), rule));
    }

    private string? ExemptionOf(SessionContext session, string recipient)
    {
        if (session.IsLocalSubmission)
            return "local submission";
        if (session.AuthenticatedUser is not null && _options.Skip.Authenticated)
            return "authenticated";
        if (session.ClientAddress is not { } client)
            return "no client address";
        if (IPNetworks.FirstContaining(_trustedClients, client) is { } network)
            return "trusted client " + network;
        // The sender as written and as keyed (BATV and SRS undone), so "*@partner.example" also skips its forwarded mail.
        if (_skipSenders.Length > 0 && (AnyMatches(_skipSenders, session.Sender ?? "") || AnyMatches(_skipSenders, EnvelopeAddress.NormalizeSender(session.Sender))))
            return "greylist.skip.senders";
        if (AnyMatches(_skipRecipients, recipient))
            return "greylist.skip.recipients";
        return null;
    }

    private static bool AnyMatches(AddressPattern[] patterns, string address)
    {
        foreach (var pattern in patterns)
        {
            try
            {
                if (pattern.Matches(address))
                    return true;
            }
            catch (RegexMatchTimeoutException)
            {
                // A backtracking pattern that ran too long on this address: it does not match.
            }
        }
        return false;
    }

    private HeldMessage MessageOf(SessionContext session)
    {
        if (session.MessageState.TryGetValue(Name, out var state) && state is HeldMessage held)
            return held;
        held = new HeldMessage();
        session.MessageState[Name] = held;
        return held;
    }

    /// <summary>What per-message greylisting keeps between RCPT and DATA.</summary>
    private sealed class HeldMessage
    {
        public List<GreylistResult> Deferred { get; } = [];
        public StoreUnavailableException? Failure { get; set; }
    }
}
