namespace Milter.Protocol.Replies;

/// <summary>
/// A filter's answer for one stage. <c>default</c> is Continue, so the common answer costs nothing.
/// <paramref name="Reply"/> is the SMTP reply the client sees (REPLYCODE); without it sendmail uses its own text.
/// <paramref name="Rule"/> names the configuration rule that decided, for the log line and <c>simulate</c>.
/// </summary>
public readonly record struct Verdict(VerdictKind Kind, SmtpReply? Reply = null, string? Rule = null)
{
    public static Verdict Continue => default;
    public static Verdict Accept => new(VerdictKind.Accept);
    public static Verdict Discard => new(VerdictKind.Discard);
    public static Verdict SkipBody => new(VerdictKind.Skip);

    public static Verdict Reject(SmtpReply? reply = null, string? rule = null) => new(VerdictKind.Reject, reply, rule);
    public static Verdict Tempfail(SmtpReply? reply = null, string? rule = null) => new(VerdictKind.Tempfail, reply, rule);

    /// <summary>True for every verdict but Continue: the chain stops at the first final verdict.</summary>
    public bool IsFinal => Kind is not (VerdictKind.Continue or VerdictKind.Skip);

    public override string ToString() => Reply is null ? Kind.ToString() : $"{Kind} {Reply}";
}
