using System.Net;
using Microsoft.Extensions.Logging;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Dns;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.Protocol.Replies;

namespace Milter.Filters.Ban;

/// <summary>
/// Feeds the bypass ban: a decision sink in front of another (the decision log) that, for each
/// refusal by the ban or recipients filter, reports the client to
/// <see cref="IBypassBanStore.RecordMisbehaviourAsync"/> in the background, so the session never
/// waits for it. The strike counts under the key the client passed greylisting under: the sender
/// domain's SPF pool when the message's SPF check made it one, else the client's subnet. Trusted
/// clients (<c>relay.allow_clients</c>) and authenticated sessions are ours and never counted.
/// Build one per configuration generation, with that generation's options.
/// </summary>
public sealed class BypassBanRecorder : IDecisionSink
{
    private readonly IDecisionSink? _next;
    private readonly IBypassBanStore _store;
    private readonly GreylistOptions _options;
    private readonly IReadOnlyList<IPNetwork> _trustedClients;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PendingWrites? _pending;

    /// <param name="pending">Where the background reports are followed, so that a clean stop waits for them; null: not followed.</param>
    public BypassBanRecorder(IDecisionSink? next, IBypassBanStore store, MilterOptions options, TimeProvider time, ILogger<BypassBanRecorder> logger,
        PendingWrites? pending = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _next = next;
        _store = store;
        _options = options.Greylist;
        _trustedClients = options.Relay.AllowClients;
        _time = time;
        _logger = logger;
        _pending = pending;
    }

    /// <summary>Set once a message has given its client a strike: one message counts once, however many of its recipients were refused.</summary>
    private static readonly StateKey<bool> StruckKey = new("bypass_ban.struck");

    public void OnDecision(SessionContext session, Decision decision)
    {
        _next?.OnDecision(session, decision);
        if (Counts(session, decision))
        {
            var write = RecordInBackgroundAsync(session.ClientAddress!, DnsFacts.Pending(session), _time.GetUtcNow());
            _pending?.Track(write);
        }
    }

    /// <summary>
    /// Reports the refusal and waits: the ban placed, or null (not a counted refusal, not yet
    /// enough of them, or a client that never passed greylisting).
    /// </summary>
    public Task<DynamicBan?> RecordAsync(SessionContext session, Decision decision, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(decision);
        return Counts(session, decision)
            ? RecordCoreAsync(session.ClientAddress!, DnsFacts.Pending(session), _time.GetUtcNow(), cancellationToken)
            : Task.FromResult<DynamicBan?>(null);
    }

    // Unknown recipients and ban rules count; relay refusals, greylisting and failures (on_error) do
    // not, nor does anything a trusted client or a logged-in user does (a typo is no attack), nor a
    // decision a filter in monitor mode did not apply (a monitored filter creates no bans). A message
    // counts once: a list server's post to three departed subscribers is one strike, not three.
    private bool Counts(SessionContext session, Decision decision)
    {
        if (!Refusal(session, decision) || session.MessageState.Contains(StruckKey))
            return false;
        session.MessageState.Set(StruckKey, true);
        return true;
    }

    private bool Refusal(SessionContext session, Decision decision) =>
        _options.Enabled
        && _options.BypassBan.After > 0
        && session.ClientAddress is { } client
        && session.AuthenticatedUser is null
        && IPNetworks.FirstContaining(_trustedClients, client) is null
        && decision.Applied
        && decision.Filter is FilterNames.Ban or FilterNames.Recipients
        && decision.Rule != FilterChain.OnErrorRule
        && decision.Verdict.Kind is VerdictKind.Reject or VerdictKind.Tempfail or VerdictKind.Discard;

    // The message's DNS facts are taken when the refusal is made (the session moves on to the next
    // message) and awaited here: they finish within dns.timeout and never fault.
    private async Task<DynamicBan?> RecordCoreAsync(IPAddress client, Task<DnsFacts>? lookups, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var facts = lookups is null ? null : await lookups.WaitAsync(cancellationToken).ConfigureAwait(false);
        var key = ClientKey.For(client, facts?.SpfPoolDomain, _options);
        return await _store.RecordMisbehaviourAsync(client, key, now, _options, _trustedClients, cancellationToken).ConfigureAwait(false);
    }

    private async Task RecordInBackgroundAsync(IPAddress client, Task<DnsFacts>? lookups, DateTimeOffset now)
    {
        try
        {
            await RecordCoreAsync(client, lookups, now, CancellationToken.None).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            GreylistLog.MisbehaviourNotRecorded(_logger, client.ToString(), ex);
        }
        catch (ObjectDisposedException)
        {
            // Shutting down: the store closed under the report.
        }
    }
}
