using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Recipients;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Filters.Relay;

/// <summary>
/// Relay control at RCPT: a recipient outside the local domains (or routed through one, see
/// <see cref="RecipientAddress"/>) is accepted only from a client in <c>relay.allow_clients</c>,
/// an authenticated session (when <c>relay.allow_authenticated</c>), or a local submission.
/// Everyone else gets <c>550 5.7.1 Relaying denied</c> (sendmail prefixes the address:
/// <c>550 5.7.1 &lt;addr&gt;... Relaying denied</c>) for that recipient.
/// With <c>relay.local_users</c>, a session on this host (a loopback client or a local submission)
/// is judged by who submitted it instead of by <c>allow_clients</c> (see <see cref="LocalSubmitters"/>);
/// a session of the submission account is judged once its headers are in, and refused whole at
/// the end of the headers.
/// </summary>
public sealed class RelayFilter : IMilterFilter
{
    /// <summary>The rule id of a relay refusal.</summary>
    public const string Rule = "relay";

    /// <summary>The rule id of a refusal by <c>relay.local_users</c>, naming the user: <c>local_users (bob)</c>.</summary>
    public const string LocalUsersRule = "local_users";

    private static readonly SmtpReply Denied = new(550, "5.7.1", "Relaying denied");

    private readonly RelayOptions _options;
    private readonly LocalDomains _localDomains;
    private readonly LocalSubmitters? _submitters;

    /// <exception cref="FormatException">A name in <c>relay.local_users</c> is not an account of this host.</exception>
    public RelayFilter(RelayOptions options, LocalDomains localDomains)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(localDomains);
        _options = options;
        _localDomains = localDomains;
        if (options.LocalUsers is { } users)
        {
            _submitters = LocalSubmitters.Resolve(users, options.SubmissionUser, new LocalAccounts(), new TcpSocketTable());
            Needs = new(MilterStages.Rcpt | MilterStages.Header | MilterStages.EndOfHeaders, new Dictionary<MacroStage, IReadOnlyList<string>>
            {
                [MacroStage.Connect] = ["{client_addr}", "_", "{daemon_addr}", "{daemon_port}", "{if_addr}"],
                [MacroStage.EnvFrom] = ["{auth_authen}"],
            })
            {
                // The Received line is only read; the answer comes at the end of the headers.
                Replies = MilterStages.Rcpt | MilterStages.EndOfHeaders,
                HeaderNames = [SubmissionReceived.HeaderName],
            };
        }
        else
        {
            Needs = new(MilterStages.Rcpt, new Dictionary<MacroStage, IReadOnlyList<string>>
            {
                [MacroStage.Connect] = ["{client_addr}"],
                [MacroStage.EnvFrom] = ["{auth_authen}"],
            });
        }
    }

    public string Name => FilterNames.Relay;

    public FilterNeeds Needs { get; }

    public ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(recipient);
        if (recipient.Parsed.IsLocal(_localDomains) || IsAuthenticated(session))
            return default;
        if (_submitters is not null && LocalSubmitters.IsOnThisHost(session))
            return LocalSubmissionAsync(_submitters, session, cancellationToken);
        if (session.IsLocalSubmission || IsAllowedClient(session))
            return default;
        return ValueTask.FromResult(Verdict.Reject(Denied, Rule));
    }

    public ValueTask<Verdict> OnHeaderAsync(SessionContext session, string name, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(name);
        // Only the topmost Received of a submission account's message, which its submission program wrote.
        if (session.MessageState.TryGet(PendingKey, out var pending) && !pending.HeaderSeen
            && name.Equals(SubmissionReceived.HeaderName, StringComparison.OrdinalIgnoreCase))
        {
            pending.HeaderSeen = true;
            pending.User = SubmissionReceived.User(value);
        }
        return default;
    }

    public async ValueTask<Verdict> OnEndOfHeadersAsync(SessionContext session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_submitters is null || !session.MessageState.TryGet(PendingKey, out var pending))
            return default;
        var user = pending.User ?? throw new LocalUserUnknownException(
            "the submission account's message does not begin with its submission program's Received: (from USER@localhost) line");
        var uid = await Task.Run(() => _submitters.UidOf(user), cancellationToken).ConfigureAwait(false)
            ?? throw new LocalUserUnknownException($"the submission program names local user '{user}', unknown here");
        return _submitters.Allows(uid) ? default : Verdict.Reject(Denied, $"{LocalUsersRule} ({user})");
    }

    private async ValueTask<Verdict> LocalSubmissionAsync(LocalSubmitters submitters, SessionContext session, CancellationToken cancellationToken)
    {
        // One lookup per SMTP session: the client's socket and its owner do not change.
        if (!session.SessionState.TryGet(OwnerKey, out var owner))
        {
            owner = await Task.Run(() => submitters.OwnerOf(session), cancellationToken).ConfigureAwait(false);
            session.SessionState.Set(OwnerKey, owner);
        }
        if (submitters.IsSubmissionAccount(owner))
        {
            // Who called the submission program is known once its Received line is in.
            session.MessageState.GetOrAdd(PendingKey, static () => new PendingSubmission());
            return default;
        }
        if (submitters.Allows(owner))
            return default;
        var name = await Task.Run(() => submitters.NameOf(owner), cancellationToken).ConfigureAwait(false);
        return Verdict.Reject(Denied, $"{LocalUsersRule} ({name})");
    }

    private bool IsAuthenticated(SessionContext session) =>
        _options.AllowAuthenticated && !string.IsNullOrEmpty(session.AuthenticatedUser);

    private bool IsAllowedClient(SessionContext session)
    {
        if (session.ClientAddress is not { } address)
            return false;
        foreach (var network in _options.AllowClients)
        {
            if (network.Contains(address))
                return true;
        }
        return false;
    }

    private static readonly StateKey<uint> OwnerKey = new("relay.socket-owner");
    private static readonly StateKey<PendingSubmission> PendingKey = new("relay.pending-submission");

    // A message of the submission account with a foreign recipient, waiting for its Received line.
    private sealed class PendingSubmission
    {
        public bool HeaderSeen { get; set; }
        public string? User { get; set; }
    }
}
