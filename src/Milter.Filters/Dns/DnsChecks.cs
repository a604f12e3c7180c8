using System.Globalization;
using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Greylist;
using Milter.Filters.Logging;
using Milter.Filters.Stores;
using Milter.Protocol.Replies;

namespace Milter.Filters.Dns;

/// <summary>
/// The DNS lookups a message needs, made once per message for the DNS lists and the greylist:
/// the sender domain's SPF check (<c>greylist.spf_pools</c>), the client's reverse DNS
/// (<c>greylist.only_suspicious</c>) and its <c>dns_lists</c> listings. <see cref="Start"/> begins
/// them all at once at MAIL; <see cref="GetAsync"/> waits for them at RCPT. Together they take at
/// most <c>dns.timeout</c> from the start: what has not answered by then counts as unanswered
/// (no SPF pass, no trusted name, not listed), so DNS trouble means plain greylisting, never a
/// refusal or a stall; it is logged once per burst. Built per configuration; the resolver is shared.
/// </summary>
public sealed class DnsChecks
{
    private readonly SpfVerifier _spf;
    private readonly ReverseDnsLookup _reverse;
    private readonly IDnsResolver _resolver;
    private readonly IReadOnlyList<IPNetwork> _relayClients;
    private readonly GreylistExemption _greylistExemption;
    private readonly GreylistOptions _greylist;
    private readonly SpfOptions _spfFilter;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    // Failures closer together than a minute are one burst: one warning, with a count in the next one.
    private readonly FailureBurst _burst;

    /// <exception cref="FormatException">A <c>dns_lists</c> code or a <c>greylist.skip</c> pattern is malformed.</exception>
    public DnsChecks(IDnsResolver resolver, MilterOptions options, TimeProvider time, ILogger<DnsChecks> logger)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _resolver = resolver;
        _spf = new SpfVerifier(resolver);
        _reverse = new ReverseDnsLookup(resolver);
        _greylist = options.Greylist;
        _spfFilter = options.Spf;
        _relayClients = options.Relay.AllowClients;
        _greylistExemption = new GreylistExemption(options.Greylist, options.Relay.AllowClients);
        Lists = [.. options.DnsLists.Select(l => new DnsList(l))];
        _timeout = options.Dns.Timeout;
        _time = time;
        _logger = logger;
        _burst = new FailureBurst(time, TimeSpan.FromMinutes(1));
    }

    /// <summary>The <c>dns_lists</c>, in configuration order.</summary>
    public IReadOnlyList<DnsList> Lists { get; }

    public bool ChecksSpf => (_greylist.Enabled && _greylist.SpfPools) || _spfFilter.IsOn;

    /// <summary><c>greylist.only_suspicious</c> and <c>greylist.skip.client_names</c> read the client's reverse DNS.</summary>
    public bool ChecksReverseDns => _greylist.Enabled && (_greylist.OnlySuspicious || _greylist.Skip.ClientNames.Count > 0);

    /// <summary>False when the configuration asks DNS nothing at all.</summary>
    public bool IsNeeded => Lists.Count > 0 || ChecksSpf || ChecksReverseDns;

    /// <summary>Starts the current message's lookups unless they already run; call at MAIL, when the sender is known.</summary>
    public void Start(SessionContext session)
    {
        ArgumentNullException.ThrowIfNull(session);
        Lookups(session);
    }

    /// <summary>A filter's MAIL stage: starts the lookups (<see cref="Start"/>) and continues; the answers count at RCPT.</summary>
    public ValueTask<Verdict> StartAtMail(SessionContext session)
    {
        Start(session);
        return ValueTask.FromResult(Verdict.Continue);
    }

    /// <summary>The current message's facts, starting the lookups if nobody did; waits at most what is left of <c>dns.timeout</c>.</summary>
    public async ValueTask<DnsFacts> GetAsync(SessionContext session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        return await Lookups(session).Facts.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private MessageLookups Lookups(SessionContext session) =>
        session.MessageState.GetOrAdd(MessageLookups.StateKey, static state =>
        {
            var plan = state.Checks.Plan(state.Session);
            return new MessageLookups(plan.IsEmpty ? Task.FromResult(DnsFacts.None) : state.Checks.LookUpAsync(plan, state.Session.QueueId ?? "-"));
        }, (Checks: this, Session: session));

    /// <summary>
    /// A client of ours: a local submission, a logged-in user or a relay client
    /// (<c>relay.allow_clients</c>). No block list refuses it, nor an SPF result.
    /// </summary>
    public bool IsOurs(SessionContext session)
    {
        ArgumentNullException.ThrowIfNull(session);
        return session.IsLocalSubmission
            || session.ClientAddress is not { } client
            || session.AuthenticatedUser is not null
            || IPNetworks.FirstContaining(_relayClients, client) is not null;
    }

    private LookupPlan Plan(SessionContext session)
    {
        if (session.IsLocalSubmission || session.ClientAddress is not { } client)
            return LookupPlan.Empty;
        var ours = IsOurs(session);
        var lists = ours ? [] : Lists;
        // Sender and recipient skips are decided per recipient: the lookups still serve the others.
        var greylisted = _greylist.Enabled && _greylistExemption.OfSession(session) is null;
        // The sender sendmail records, not the text around it: "<a@fail.example>x@pass.example" and
        // "<a@fail.example(x)>" are a@fail.example's mail, and its SPF record is the one to check.
        var sender = Relay.RecipientAddress.Mailbox(session.Sender ?? "");
        var domain = EnvelopeAddress.DomainOf(sender.ToLowerInvariant());
        var spfDomain = greylisted && _greylist.SpfPools && domain.Length > 0 ? domain : null;
        var ofHelo = false;
        // The spf filter checks every client that is not ours: the MAIL FROM domain, or the HELO
        // name for the null sender (RFC 7208 section 2.3).
        if (spfDomain is null && _spfFilter.IsOn && !ours)
        {
            spfDomain = domain.Length > 0 ? domain : session.IsNullSender ? session.Helo?.Trim().TrimEnd('.').ToLowerInvariant() : null;
            ofHelo = domain.Length == 0 && spfDomain is not null;
        }
        return new LookupPlan(IPNetworks.Canonical(client), ofHelo ? "postmaster@" + spfDomain : sender, session.Helo, spfDomain,
            greylisted && ChecksReverseDns, lists) { SpfOfHelo = ofHelo, JudgeSpfPool = greylisted && _greylist.SpfPools && !ofHelo };
    }

    private async Task<DnsFacts> LookUpAsync(LookupPlan plan, string queueId)
    {
        using var deadline = new CancellationTokenSource(_timeout, _time);
        var token = deadline.Token;
        var client = plan.Client;
        var spf = plan.SpfDomain is { } domain
            ? Guard($"spf {domain}", async ct => (SpfCheck?)(await _spf.CheckAsync(client, domain, plan.Sender, plan.Helo, ct, plan.JudgeSpfPool).ConfigureAwait(false) with { OfHelo = plan.SpfOfHelo }), token)
            : null;
        var reverse = plan.ReverseDns ? Guard("reverse dns", async ct => (ReverseDns?)await _reverse.LookupAsync(client, ct).ConfigureAwait(false), token) : null;
        var lists = plan.Lists.Select(list => Guard($"dns list {list.Zone}", ct => ListingOfAsync(list, client, ct), token)).ToList();

        var all = new List<Task>(lists.Select(l => l.Task));
        if (spf is not null) all.Add(spf.Task);
        if (reverse is not null) all.Add(reverse.Task);
        try
        {
            await Task.WhenAll(all).WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Out of time: whatever has answered counts, the rest is reported below.
        }

        var failures = new List<string>();
        var spfCheck = Take(spf, failures);
        // The validator folds a failed lookup into temperror: a DNS failure all the same.
        if (spfCheck is { Result: SpfResult.TempError })
            failures.Add($"spf {spfCheck.Domain}: temperror (a lookup failed)");
        var facts = new DnsFacts
        {
            Spf = spfCheck,
            ReverseDns = Take(reverse, failures),
            ListsQueried = plan.Lists,
            Listings = [.. lists.Select(l => Take(l, failures)).OfType<DnsListing>()],
            Failures = failures,
        };
        if (failures.Count > 0 && _burst.OnFailure(out var unreported))
        {
            DnsLog.LookupsFailed(_logger, client.ToString(), string.Join("; ", failures),
                unreported == 0 ? "" : $"; {unreported} more messages met DNS failures since the last report");
        }
        else if (failures.Count == 0 && _burst.OnSuccess(out var failed, out var lasted))
        {
            DnsLog.Recovered(_logger, failed, lasted);
        }
        if (_logger.IsEnabled(LogLevel.Debug))
            DnsLog.Facts(_logger, queueId, client.ToString(), string.Join("; ", facts.Describe()));
        return facts;
    }

    private async Task<DnsListing?> ListingOfAsync(DnsList list, IPAddress client, CancellationToken cancellationToken)
    {
        var answers = await _resolver.ResolveAsync<ARecord>(DomainName.Parse(list.QueryName(client)), RecordType.A, RecordClass.INet, cancellationToken)
            .ConfigureAwait(false);
        if (answers.Select(a => a.Address).FirstOrDefault(list.Counts) is { } code)
            return new DnsListing(list, code);
        // Not a listing, but no "not listed" either: reported as a failure, so that the postmaster
        // hears of a list that refuses every query instead of it passing every client quietly.
        if (answers.Select(a => a.Address).FirstOrDefault(list.IsRefusal) is { } refusal)
            throw new DnsLookupException($"{list.Zone} refused the query ({refusal})");
        return null;
    }

    // Starts one lookup so that it can only end in a value or a described failure, never an exception.
    private Lookup<T> Guard<T>(string what, Func<CancellationToken, Task<T?>> lookup, CancellationToken token) where T : class
    {
        async Task<Outcome<T>> RunAsync()
        {
            try
            {
                return new Outcome<T>(await lookup(token).ConfigureAwait(false), null);
            }
            catch (OperationCanceledException)
            {
                return new Outcome<T>(null, NoAnswer());
            }
            catch (Exception ex)
            {
                // DNS trouble of any kind means "no answer", never a failed message.
                return new Outcome<T>(null, ex.Message);
            }
        }
        return new Lookup<T>(what, RunAsync());
    }

    private T? Take<T>(Lookup<T>? lookup, List<string> failures) where T : class
    {
        if (lookup is null)
            return null;
        if (!lookup.Task.IsCompletedSuccessfully)
        {
            failures.Add($"{lookup.What}: {NoAnswer()}");
            return null;
        }
        var outcome = lookup.Task.Result;
        if (outcome.Failure is not null)
            failures.Add($"{lookup.What}: {outcome.Failure}");
        return outcome.Value;
    }

    private string NoAnswer() => string.Create(CultureInfo.InvariantCulture, $"no answer within {_timeout.TotalSeconds:0.###}s");

    private sealed record Outcome<T>(T? Value, string? Failure) where T : class;

    private sealed record Lookup<T>(string What, Task<Outcome<T>> Task) where T : class;

    private sealed record LookupPlan(IPAddress Client, string Sender, string? Helo, string? SpfDomain, bool ReverseDns, IReadOnlyList<DnsList> Lists)
    {
        public static LookupPlan Empty { get; } = new(IPAddress.None, "", null, null, false, []);

        /// <summary>The SPF domain is the HELO name (the null sender's identity).</summary>
        public bool SpfOfHelo { get; init; }

        /// <summary>A pass is judged for <c>spf_pools</c>: only a greylisted message under spf_pools keys by it.</summary>
        public bool JudgeSpfPool { get; init; }

        public bool IsEmpty => SpfDomain is null && !ReverseDns && Lists.Count == 0;
    }
}
