using System.Net;
using System.Text.RegularExpressions;
using Milter.Filters.Ban;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// Who is never greylisted, written once for the greylist filter and for the DNS lookups made for it
/// (no SPF or reverse-DNS lookup for a client that is exempt anyway): local submissions, sessions
/// without a client address, authenticated sessions (while <c>greylist.skip.authenticated</c>),
/// clients in <c>relay.allow_clients</c> and <c>greylist.skip.clients</c>, and per recipient the
/// senders and recipients of <c>greylist.skip</c>.
/// </summary>
internal sealed class GreylistExemption
{
    private readonly bool _skipAuthenticated;
    private readonly IReadOnlyList<IPNetwork> _trustedClients;
    private readonly AddressPattern[] _skipSenders;
    private readonly AddressPattern[] _skipRecipients;

    /// <param name="trustedClients">Clients never greylisted besides <c>greylist.skip.clients</c>: the relay clients.</param>
    /// <exception cref="FormatException">A <c>greylist.skip</c> pattern does not compile (same syntax as ban rules, <see cref="AddressPattern"/>).</exception>
    public GreylistExemption(GreylistOptions options, IReadOnlyList<IPNetwork> trustedClients)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(trustedClients);
        _skipAuthenticated = options.Skip.Authenticated;
        _trustedClients = [.. trustedClients, .. options.Skip.Clients];
        _skipSenders = [.. options.Skip.Senders.Select(AddressPattern.Parse)];
        _skipRecipients = [.. options.Skip.Recipients.Select(AddressPattern.Parse)];
    }

    /// <summary>Why the whole session is exempt, or null: what is known from CONNECT and MAIL alone, without the sender patterns.</summary>
    public string? OfSession(SessionContext session)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.IsLocalSubmission)
            return "local submission";
        if (session.AuthenticatedUser is not null && _skipAuthenticated)
            return "authenticated";
        if (session.ClientAddress is not { } client)
            return "no client address";
        if (IPNetworks.FirstContaining(_trustedClients, client) is { } network)
            return "trusted client " + network;
        return null;
    }

    /// <summary>Why this recipient of the current message is exempt, or null.</summary>
    public string? Of(SessionContext session, string recipient)
    {
        if (OfSession(session) is { } reason)
            return reason;
        // The sender as written and as keyed (BATV and SRS undone), so "*@partner.example" also skips its forwarded mail.
        if (_skipSenders.Length > 0 && (AnyMatches(_skipSenders, session.Sender ?? "") || AnyMatches(_skipSenders, EnvelopeAddress.NormalizeSender(session.Sender))))
            return "greylist.skip.senders";
        if (AnyMatches(_skipRecipients, recipient))
            return "greylist.skip.recipients";
        return null;
    }

    private static bool AnyMatches(AddressPattern[] patterns, string address) => AddressPattern.AnyMatches(patterns, address);
}
