using Milter.Protocol.Replies;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Client;

/// <summary>
/// What the filter answered to one command, as the MTA sees it: the final reply code, the SMTP
/// reply of a REPLYCODE, the modifications sent before it (EOM only), and how many PROGRESS
/// packets came first. <see cref="Sent"/> is false when the stage was negotiated away;
/// <see cref="Awaited"/> is false when the filter asked not to be waited for (SMFIP_NR_*).
/// </summary>
public sealed record MilterResponse(
    ReplyCode Code,
    SmtpReply? Reply,
    IReadOnlyList<Modification> Modifications,
    int ProgressCount,
    bool Sent = true,
    bool Awaited = true)
{
    /// <summary>A stage the filter negotiated away: the MTA sends nothing and carries on.</summary>
    public static MilterResponse NotSent { get; } = new(ReplyCode.Continue, null, [], 0, Sent: false, Awaited: false);

    /// <summary>A stage sent without waiting for an answer.</summary>
    public static MilterResponse NotAwaited { get; } = new(ReplyCode.Continue, null, [], 0, Sent: true, Awaited: false);

    /// <summary>The verdict this answer amounts to.</summary>
    public VerdictKind Kind => Code switch
    {
        ReplyCode.Continue => VerdictKind.Continue,
        ReplyCode.Accept => VerdictKind.Accept,
        ReplyCode.Reject => VerdictKind.Reject,
        ReplyCode.Tempfail or ReplyCode.Shutdown or ReplyCode.ConnectionFailure => VerdictKind.Tempfail,
        ReplyCode.Discard => VerdictKind.Discard,
        ReplyCode.Skip => VerdictKind.Skip,
        ReplyCode.ReplyCode => Reply!.Kind,
        _ => VerdictKind.Continue,
    };

    public override string ToString() => Reply is null ? Code.ToString() : Reply.ToString();
}
