using System.Net;
using Microsoft.Extensions.Logging;
using Milter.Filters.Ban;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Dns;
using Milter.Filters.Stores;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

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
/// <para>With <c>add_header</c> (the default), a message that waited gets
/// <c>X-Greylist: delayed N seconds by milterhost-VERSION at HOST; DATE</c> at end of message, N being
/// the longest time one of its triplets took from its first attempt to its pass; with
/// <c>add_header_whitelisted</c>, a message the auto-whitelist let through at once gets
/// <c>X-Greylist: passed, auto-whitelisted by ...</c>. Every <c>X-Greylist</c> header the message
/// arrived with is removed, so the one left is ours: this filter alone reads that header.</para>
/// Built per configuration (a reload builds a new one); the store is shared.
/// </summary>
public sealed class GreylistFilter : IMilterFilter
{
    private const string AuthMacro = "{auth_authen}";
    private static readonly StateKey<HeldMessage> HeldKey = new("greylist.held");

    /// <summary>The header this filter writes, and removes when it arrives with the message.</summary>
    public const string HeaderName = "X-Greylist";

    private readonly IGreylistCheck _store;
    private readonly GreylistOptions _options;
    private readonly GreylistExemption _exemption;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DnsChecks? _dns;
    private readonly Glob[] _skipNames;
    private readonly TraceStamp _stamp;

    /// <exception cref="FormatException">A <c>greylist.skip</c> pattern does not compile (same syntax as ban rules, <see cref="AddressPattern"/>).</exception>
    public GreylistFilter(IGreylistCheck store, GreylistOptions options, IReadOnlyList<IPNetwork> trustedClients, TimeProvider time, ILogger<GreylistFilter> logger)
        : this(store, options, trustedClients, null, time, logger)
    {
    }

    /// <param name="dns">The message's DNS lookups (SPF pools, reverse DNS, DNS lists); null: plain triplets only.</param>
    /// <exception cref="FormatException">A <c>greylist.skip</c> pattern does not compile.</exception>
    /// <param name="trustedClients">Clients never greylisted besides <c>greylist.skip.clients</c>: the relay clients (<c>relay.allow_clients</c>).</param>
    /// <param name="stamp">Who the <c>X-Greylist</c> header names; null: <see cref="TraceStamp.Local"/>.</param>
    public GreylistFilter(IGreylistCheck store, GreylistOptions options, IReadOnlyList<IPNetwork> trustedClients, DnsChecks? dns, TimeProvider time, ILogger<GreylistFilter> logger,
        TraceStamp? stamp = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(trustedClients);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _store = store;
        _options = options;
        _exemption = new GreylistExemption(options, trustedClients);
        _time = time;
        _logger = logger;
        _dns = dns is { IsNeeded: true } ? dns : null;
        _skipNames = [.. options.Skip.ClientNames.Select(n => new Glob(n))];
        _stamp = stamp ?? TraceStamp.Local;
        // MAIL only starts the DNS lookups, so the MTA need not wait for that answer. End of message
        // decides what DATA would have where the MTA sends no DATA (milter protocol 2 and 3: sendmail
        // before 8.14, Postfix with milter_protocol = 2 or 3).
        var stages = MilterStages.Rcpt | MilterStages.Data | MilterStages.EndOfMessage;
        var answers = _options.PerMessage ? MilterStages.Data | MilterStages.EndOfMessage : stages;
        if (_dns is not null)
            stages |= MilterStages.Mail;
        var macros = new Dictionary<MacroStage, IReadOnlyList<string>> { [MacroStage.EnvFrom] = [AuthMacro] };
        if (_options.AddHeader)
        {
            // The header stage only watches for X-Greylist; the changes come at end of message.
            stages |= MilterStages.Header;
            macros[MacroStage.Connect] = [TraceStamp.HostMacro];
        }
        Needs = _options.Enabled
            ? new FilterNeeds(stages, macros)
            {
                // With per_message the RCPT answer is always Continue: the MTA need not wait for it.
                Replies = answers,
                HeaderNames = _options.AddHeader ? [HeaderName] : null,
                Actions = _options.AddHeader ? HeaderChanges.Needed : ActionFlags.None,
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
        if (_exemption.Of(session, recipient.Address) is { } reason)
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
            // A forward-confirmed name the postmaster trusts (a big sender that retries from another
            // address each time); the PTR name alone is whatever the address's owner wrote.
            if (_skipNames.Length > 0 && facts.ReverseDns?.ConfirmedName is { } confirmed && Array.Exists(_skipNames, g => g.IsMatch(confirmed)))
            {
                GreylistLog.Skipped(_logger, session.QueueId ?? "-", recipient.Address, $"greylist.skip.client_names: {confirmed}");
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
        // One message that comes back adds one pass to the auto-whitelist, however many recipients it has.
        var triplet = Triplet.Create(clientKey, session.Sender, recipient.Address) with { AddsToAutoWhitelist = !session.MessageState.Contains(AwlCountedKey) };
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

        if (result.FirstPass && triplet.AddsToAutoWhitelist)
        {
            session.MessageState.Set(AwlCountedKey, true);
            // Counted now, inside the first pass's transaction; taken back should DATA defer the message.
            // A bounce counts nothing, so there is nothing to take back.
            if (decideAtData && GreylistPolicy.CountsForAutoWhitelist(triplet))
                MessageOf(session).Counted = triplet;
        }
        if (result.Passes && _options.AddHeader)
            MessageOf(session).Passed(result);
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

    /// <summary>Counts the <c>X-Greylist</c> headers the message arrived with, for removal at end of message.</summary>
    public ValueTask<Verdict> OnHeaderAsync(SessionContext session, string name, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(name);
        if (_options.AddHeader && name.Equals(HeaderName, StringComparison.OrdinalIgnoreCase))
            MessageOf(session).IncomingHeaders++;
        return ValueTask.FromResult(Verdict.Continue);
    }

    /// <summary>
    /// Answers for DATA where the MTA sent none; then removes the <c>X-Greylist</c> headers the
    /// message arrived with and adds ours when it waited.
    /// </summary>
    public ValueTask<Verdict> OnEndOfMessageAsync(SessionContext session, IMessageModifier modifier, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(modifier);
        if (!session.MessageState.TryGet(HeldKey, out var held))
            return ValueTask.FromResult(Verdict.Continue);
        if (!held.Decided)
        {
            held.Decided = true;
            if (held.Failure is { } failure)
                return FailingAsync(session, held, failure, cancellationToken);
            if (Decide(held) is { IsFinal: true } deferred)
                return Deferring(session, held, deferred, cancellationToken);
        }
        if (!_options.AddHeader || !HeaderChanges.Granted(modifier))
            return ValueTask.FromResult(Verdict.Continue);
        // Last first: whether or not the MTA counts a removed header, the earlier indexes stay put.
        for (var index = held.IncomingHeaders; index >= 1; index--)
            modifier.ChangeHeader((uint)index, HeaderName, "");
        var text = HeaderText(_options, held.Delayed, held.AutoWhitelisted);
        if (text is not null)
            modifier.AddHeader(HeaderName, $"{text} by {_stamp.Software} at {_stamp.HostOf(session)}; {TraceStamp.Date(_time.GetLocalNow())}");
        return ValueTask.FromResult(Verdict.Continue);
    }

    /// <summary>What the header says before "by ...": <c>delayed N seconds</c>, <c>passed, auto-whitelisted</c>, or nothing to say (null).</summary>
    internal static string? HeaderText(GreylistOptions options, TimeSpan delayed, bool autoWhitelisted) =>
        delayed >= TimeSpan.FromSeconds(1)
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"delayed {(long)delayed.TotalSeconds} seconds")
            : autoWhitelisted && options.AddHeaderWhitelisted ? "passed, auto-whitelisted" : null;

    public ValueTask<Verdict> OnDataAsync(SessionContext session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (!session.MessageState.TryGet(HeldKey, out var held))
            return ValueTask.FromResult(Verdict.Continue);
        held.Decided = true;
        if (held.Failure is { } failure)
            return FailingAsync(session, held, failure, cancellationToken);
        var verdict = Decide(held);
        return verdict.Kind == VerdictKind.Tempfail ? Deferring(session, held, verdict, cancellationToken) : ValueTask.FromResult(verdict);
    }

    /// <summary>
    /// A recipient could not be checked: the message is answered per on_error. It did not pass the
    /// greylist, so the auto-whitelist pass another recipient's first pass counted at RCPT is taken
    /// back first: under tempfail the message comes back and counts then (kept, it would count
    /// twice); under accept it goes through without counting, which only delays an auto-whitelisting.
    /// </summary>
    /// <exception cref="StoreUnavailableException">Always: the chain answers it per on_error.</exception>
    private async ValueTask<Verdict> FailingAsync(SessionContext session, HeldMessage held, StoreUnavailableException failure, CancellationToken cancellationToken)
    {
        if (held.Counted is { } counted)
        {
            held.Counted = null;
            await TakeBackAsync(session, counted, Verdict.Continue, cancellationToken).ConfigureAwait(false);
        }
        throw new StoreUnavailableException($"greylist: a recipient could not be checked: {failure.Message}", failure);
    }

    /// <summary>
    /// The message's deferral at DATA, after taking back the auto-whitelist pass a recipient's first
    /// pass counted at RCPT: the message comes back, and counts once then. Were the pass kept, a
    /// message with one recipient passing and another deferred would count twice (now, and at its
    /// retry when the other passes for the first time). Should the store fail here, the deferral
    /// stands and the line says so.
    /// </summary>
    private ValueTask<Verdict> Deferring(SessionContext session, HeldMessage held, Verdict deferred, CancellationToken cancellationToken)
    {
        if (held.Counted is not { } counted)
            return ValueTask.FromResult(deferred);
        held.Counted = null;
        return TakeBackAsync(session, counted, deferred, cancellationToken);
    }

    private async ValueTask<Verdict> TakeBackAsync(SessionContext session, Triplet counted, Verdict deferred, CancellationToken cancellationToken)
    {
        try
        {
            await _store.UncountAutoWhitelistPassAsync(counted, cancellationToken).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            GreylistLog.UncountFailed(_logger, session.QueueId ?? "-", counted.ToString(), ex);
        }
        return deferred;
    }

    /// <summary>The message's one answer, every recipient checked: tempfail while a recipient's triplet is deferred.</summary>
    private static Verdict Decide(HeldMessage held)
    {
        if (held.Deferred.Count == 0)
            return Verdict.Continue;
        // The longest wait, so that the retry passes for every recipient at once.
        var seconds = held.Deferred.Max(r => r.RetrySeconds);
        var rule = held.Deferred.Any(r => r.Rule == GreylistRules.New) ? GreylistRules.New : GreylistRules.Early;
        return Verdict.Tempfail(GreylistResult.DeferReply(seconds), rule);
    }

    /// <summary>Set once a triplet of the message has added its pass to the auto-whitelist.</summary>
    private static readonly StateKey<bool> AwlCountedKey = new("greylist.awl_counted");

    private static HeldMessage MessageOf(SessionContext session) => session.MessageState.GetOrAdd(HeldKey, static () => new HeldMessage());

    /// <summary>What greylisting keeps of a message: the deferrals decided at DATA, and what the header says at end of message.</summary>
    private sealed class HeldMessage
    {
        public List<GreylistResult> Deferred { get; } = [];

        /// <summary>DATA came and was answered; else end of message answers for it.</summary>
        public bool Decided { get; set; }
        public StoreUnavailableException? Failure { get; set; }

        /// <summary>The longest a passing triplet of this message waited.</summary>
        public TimeSpan Delayed { get; private set; }

        /// <summary>The triplet whose first pass counted the message's auto-whitelist pass at RCPT; null once taken back.</summary>
        public Triplet? Counted { get; set; }

        /// <summary>A recipient passed through the auto-whitelist.</summary>
        public bool AutoWhitelisted { get; private set; }

        /// <summary><c>X-Greylist</c> headers the message arrived with.</summary>
        public int IncomingHeaders { get; set; }

        public void Passed(GreylistResult result)
        {
            if (result.Delayed > Delayed)
                Delayed = result.Delayed;
            AutoWhitelisted |= result.Rule == GreylistRules.Whitelisted;
        }
    }
}
