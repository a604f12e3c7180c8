using System.Globalization;
using Milter.Filters;
using Milter.Filters.Context;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace CustomFilter;

/// <summary>
/// Refuses the recipients of a message beyond <see cref="MaxRecipientsOptions.Max"/> with
/// <c>452 4.5.3 Too many recipients</c> (RFC 5321 4.5.3.1.10: the client sends them again in a
/// later transaction), and with <c>add_header</c> adds <c>X-Recipients: N</c> at end of message.
/// </summary>
public sealed class MaxRecipientsFilter : IMilterFilter
{
    public const string FilterName = "max_recipients";

    private static readonly SmtpReply TooMany = new(452, "4.5.3", "Too many recipients");

    private readonly MaxRecipientsOptions _options;

    public MaxRecipientsFilter(MaxRecipientsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        // RCPT to count; end of message and the right to add headers only when it adds one, so the
        // MTA is asked for SMFIF_ADDHDRS only then.
        Needs = options.AddHeader
            ? new FilterNeeds(MilterStages.Rcpt | MilterStages.EndOfMessage, new Dictionary<MacroStage, IReadOnlyList<string>>())
            {
                Replies = MilterStages.Rcpt,
                Actions = ActionFlags.AddHeaders,
            }
            : new FilterNeeds(MilterStages.Rcpt, new Dictionary<MacroStage, IReadOnlyList<string>>());
    }

    public string Name => FilterName;

    public FilterNeeds Needs { get; }

    public ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        return ValueTask.FromResult(session.AcceptedRecipients.Count >= _options.Max
            ? Verdict.Tempfail(TooMany, $"{FilterName} ({_options.Max})")
            : Verdict.Continue);
    }

    public ValueTask<Verdict> OnEndOfMessageAsync(SessionContext session, IMessageModifier modifier, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(modifier);
        modifier.AddHeader("X-Recipients", session.AcceptedRecipients.Count.ToString(CultureInfo.InvariantCulture));
        return ValueTask.FromResult(Verdict.Continue);
    }
}
