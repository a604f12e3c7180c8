using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Relay;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Filters.Recipients;

/// <summary>
/// Unknown recipients at our domains. With <c>action: reject</c> each is refused at RCPT with
/// <c>550 5.1.1 User unknown</c> (sendmail shows the client <c>550 5.1.1 /// <c>550 5.1.1 &lt;addr&gt;... User unknown</c>lt;addr/// <c>550 5.1.1 &lt;addr&gt;... User unknown</c>gt;... User unknown</c>) (or the reply of its <c>error:</c> target).
/// With <c>action: discard</c> it is accepted and remembered, and at end of message the message
/// is discarded if no known recipient remains. Foreign and routed recipients are left to the
/// relay filter.
/// </summary>
public sealed class RecipientFilter : IMilterFilter
{
    /// <summary>The rule id of an unknown-recipient refusal or discard.</summary>
    public const string Rule = "recipients";

    private static readonly StateKey<HashSet<string>> UnknownKey = new("recipients.unknown");

    private readonly RecipientAction _action;
    private readonly LocalDomains _localDomains;
    private readonly RecipientDirectory _directory;

    public RecipientFilter(RecipientsOptions options, LocalDomains localDomains, RecipientDirectory directory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(localDomains);
        ArgumentNullException.ThrowIfNull(directory);
        _action = options.Action;
        _localDomains = localDomains;
        _directory = directory;
        Needs = _action == RecipientAction.Discard
            ? new FilterNeeds(MilterStages.Rcpt | MilterStages.EndOfMessage, new Dictionary<MacroStage, IReadOnlyList<string>>())
            {
                Replies = MilterStages.EndOfMessage,
            }
            : new FilterNeeds(MilterStages.Rcpt, new Dictionary<MacroStage, IReadOnlyList<string>>());
    }

    public string Name => FilterNames.Recipients;

    public FilterNeeds Needs { get; }

    public ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(recipient);
        var address = recipient.Parsed;
        if (!address.IsLocal(_localDomains))
            return default;
        // Off a thread-pool thread (inline socket completions), an account lookup that may block moves there first.
        if (_directory.Lookup(address, mayAskTheSystem: Thread.CurrentThread.IsThreadPoolThread) is not { } lookup)
            return LookupOnThePoolAsync(session, recipient, address);
        return Answer(session, recipient, lookup);
    }

    private async ValueTask<Verdict> LookupOnThePoolAsync(SessionContext session, RecipientContext recipient, RecipientAddress address)
    {
        await Task.Yield();
        return await Answer(session, recipient, _directory.Lookup(address)).ConfigureAwait(false);
    }

    private ValueTask<Verdict> Answer(SessionContext session, RecipientContext recipient, RecipientLookup lookup)
    {
        if (lookup.Known)
            return default;
        if (_action == RecipientAction.Discard)
        {
            session.MessageState.GetOrAdd(UnknownKey, static () => new HashSet<string>(StringComparer.OrdinalIgnoreCase)).Add(recipient.Address);
            return default;
        }
        var reply = lookup.Reply ?? new SmtpReply(550, "5.1.1", "User unknown");
        return ValueTask.FromResult(new Verdict(reply.Kind, reply, Rule));
    }

    public ValueTask<Verdict> OnEndOfMessageAsync(SessionContext session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (!session.MessageState.TryGet(UnknownKey, out var unknown))
            return default;
        var anyKnown = session.AcceptedRecipients.Any(r => !unknown.Contains(r));
        return anyKnown ? default : ValueTask.FromResult(new Verdict(VerdictKind.Discard, null, Rule));
    }
}
