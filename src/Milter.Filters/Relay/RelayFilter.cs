using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Filters.Relay;

/// <summary>
/// Relay control at RCPT: a recipient outside the local domains (or routed through one, see
/// <see cref="RecipientAddress"/>) is accepted only from a client in <c>relay.allow_clients</c>,
/// an authenticated session (when <c>relay.allow_authenticated</c>), or a local submission.
/// Everyone else gets <c>550 5.7.1 Relaying denied</c> (sendmail prefixes the address: <c>/// Everyone else gets <c>550 5.7.1 &lt;addr&gt;... Relaying denied</c>lt;addr/// Everyone else gets <c>550 5.7.1 &lt;addr&gt;... Relaying denied</c>gt;... Relaying denied</c>) for that recipient.
/// </summary>
public sealed class RelayFilter : IMilterFilter
{
    /// <summary>The rule id of a relay refusal.</summary>
    public const string Rule = "relay";

    private readonly RelayOptions _options;
    private readonly LocalDomains _localDomains;

    public RelayFilter(RelayOptions options, LocalDomains localDomains)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(localDomains);
        _options = options;
        _localDomains = localDomains;
    }

    public string Name => FilterNames.Relay;

    public FilterNeeds Needs { get; } = new(MilterStages.Rcpt, new Dictionary<MacroStage, IReadOnlyList<string>>
    {
        [MacroStage.Connect] = ["{client_addr}"],
        [MacroStage.EnvFrom] = ["{auth_authen}"],
    });

    public ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(recipient);
        if (RecipientAddress.Parse(recipient.Address).IsLocal(_localDomains) || MayRelay(session))
            return default;
        return ValueTask.FromResult(Verdict.Reject(new SmtpReply(550, "5.7.1", "Relaying denied"), Rule));
    }

    /// <summary>True when this session may send to any domain: a trusted client, a login, or a local program.</summary>
    public bool MayRelay(SessionContext session)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.IsLocalSubmission)
            return true;
        if (_options.AllowAuthenticated && !string.IsNullOrEmpty(session.AuthenticatedUser))
            return true;
        return session.ClientAddress is { } address && IsAllowedClient(address);
    }

    private bool IsAllowedClient(System.Net.IPAddress address)
    {
        foreach (var network in _options.AllowClients)
        {
            if (network.Contains(address))
                return true;
        }
        return false;
    }
}
