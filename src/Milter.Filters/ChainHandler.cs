using System.Net;
using Milter.Filters.Context;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Filters;

/// <summary>
/// The protocol session's handler for one milter connection: fills <see cref="SessionContext"/>
/// from the commands and macros, runs the <see cref="FilterChain"/> it was created with, and
/// reports each final decision to the <see cref="IDecisionSink"/> (also those of filters in monitor
/// mode, which were not applied). Created per connection with the
/// chain current at that moment, so a reload changes only later connections.
/// </summary>
public sealed class ChainHandler : IMilterHandler
{
    private readonly FilterChain _chain;
    private readonly IDecisionSink _sink;

    public ChainHandler(FilterChain chain, IDecisionSink sink)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(sink);
        _chain = chain;
        _sink = sink;
    }

    /// <summary>The current SMTP session as the filters see it (a new one at each CONNECT).</summary>
    public SessionContext Session { get; private set; } = new();

    public HandlerRequirements Requirements => _chain.Requirements;

    public async ValueTask<Verdict> OnConnectAsync(ConnectCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        Session = new SessionContext();
        Bind(context);
        var macroAddress = context.Macros.Get("client_addr");
        var address = command.IPAddress ?? (IPAddress.TryParse(macroAddress, out var parsed) ? parsed : null);
        if (address is { IsIPv4MappedToIPv6: true })
            address = address.MapToIPv4();
        Session.ClientAddress = address;
        Session.ClientPort = command.IPAddress is null ? 0 : command.Port;
        Session.ClientName = ReportedName(context.Macros.Get("client_name") ?? command.HostName);
        // sendmail -bs (a local program speaking SMTP on stdin) connects with no address at all;
        // Postfix's non_smtpd_milters (its sendmail command) with localhost on port 0, which no TCP client has.
        Session.IsLocalSubmission = command.Family == ConnectFamily.Unix
            || (command.Family == ConnectFamily.Unknown && address is null)
            || (Session.ClientPort == 0 && address is not null && IPAddress.IsLoopback(address));
        return Report(await _chain.ConnectAsync(Session, _sink, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<Verdict> OnHeloAsync(HeloCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        Bind(context);
        Session.Helo = command.Name;
        return Report(await _chain.HeloAsync(Session, _sink, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<Verdict> OnMailAsync(MailCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        Bind(context);
        // A new message starts here, with or without an ABORT after the last one.
        Session.ResetMessage();
        Session.Sender = command.Address;
        Session.QueueId = context.Macros.Get("i");
        var login = context.Macros.Get("auth_authen");
        if (!string.IsNullOrEmpty(login))
            Session.AuthenticatedUser = login;
        return Report(await _chain.MailAsync(Session, _sink, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<Verdict> OnRcptAsync(RcptCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        Bind(context);
        CatchQueueId(context);
        var recipient = new RecipientContext(command.Address, context.Macros.Get("rcpt_mailer"));
        var decision = await _chain.RcptAsync(Session, recipient, _sink, cancellationToken).ConfigureAwait(false);
        var verdict = Report(decision);
        if (verdict.Kind is VerdictKind.Reject or VerdictKind.Tempfail)
            return verdict;
        Session.AcceptedRecipients.Add(recipient.Address);
        if (verdict.Kind == VerdictKind.Discard)
            Session.DiscardedRecipients.Add(recipient.Address);
        // At RCPT a verdict concerns that recipient. Accept or discard answered there would concern the
        // message: sendmail stops asking about it (accept) or drops it for every recipient (discard),
        // so the MTA hears continue; a discarded recipient is deleted at end of message.
        return verdict.Kind is VerdictKind.Accept or VerdictKind.Discard ? Verdict.Continue : verdict;
    }

    public async ValueTask<Verdict> OnDataAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Bind(context);
        CatchQueueId(context);
        return Report(await _chain.DataAsync(Session, _sink, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<Verdict> OnHeaderAsync(HeaderCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        Bind(context);
        CatchQueueId(context);
        // The first Subject counts; a second one is what a spammer adds to slip past a filter.
        if (Session.Subject is null && command.Name.Equals("Subject", StringComparison.OrdinalIgnoreCase))
            Session.Subject = EncodedWords.Decode(command.Value);
        return Report(await _chain.HeaderAsync(Session, command.Name, command.Value, _sink, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<Verdict> OnEndOfHeadersAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Bind(context);
        return Report(await _chain.EndOfHeadersAsync(Session, _sink, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<Verdict> OnEndOfMessageAsync(IMessageModifier modifier, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(modifier);
        Bind(context);
        CatchQueueId(context);
        var verdict = Report(await _chain.EndOfMessageAsync(Session, modifier, _sink, cancellationToken).ConfigureAwait(false));
        if (Session.DiscardedRecipients.Count == 0 || verdict.Kind is not (VerdictKind.Continue or VerdictKind.Accept))
            return verdict;
        // Each discard was logged at its RCPT. With no other recipient left the message goes; else
        // those recipients are taken out of its envelope (the filter that discards asked for
        // SMFIF_DELRCPT in its needs; an MTA that did not offer it keeps them, so nothing else is lost).
        if (Session.AcceptedRecipients.TrueForAll(Session.DiscardedRecipients.Contains))
            return Verdict.Discard;
        if ((modifier.Granted & ActionFlags.DeleteRecipient) != 0)
        {
            foreach (var recipient in Session.DiscardedRecipients)
                modifier.DeleteRecipient(recipient);
        }
        return verdict;
    }

    public async ValueTask OnAbortAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Bind(context);
        await _chain.AbortAsync(Session, cancellationToken).ConfigureAwait(false);
        Session.ResetMessage();
    }

    public async ValueTask OnCloseAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Bind(context);
        await _chain.CloseAsync(Session, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The client's name as sendmail reports it, or null when the reverse lookup failed: sendmail
    /// writes the bracketed address (<c>[203.0.113.9]</c>), Postfix writes <c>unknown</c>.
    /// </summary>
    internal static string? ReportedName(string? name)
    {
        var n = name?.Trim().TrimEnd('.');
        if (string.IsNullOrEmpty(n) || n[0] == '[' || n.Equals("unknown", StringComparison.OrdinalIgnoreCase))
            return null;
        return n;
    }

    private void Bind(MilterConnectionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!ReferenceEquals(Session.Macro.Target, context.Macros))
            Session.Macro = context.Macros.Get;
    }

    private void CatchQueueId(MilterConnectionContext context) => Session.QueueId ??= context.Macros.Get("i");

    private Verdict Report(Decision? decision)
    {
        if (decision is null)
            return Verdict.Continue;
        _sink.OnDecision(Session, decision);
        return decision.Verdict;
    }
}
