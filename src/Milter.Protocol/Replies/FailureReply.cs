namespace Milter.Protocol.Replies;

/// <summary>
/// The answer when the handler fails or overruns its stage and <c>on_error</c> is tempfail: one text
/// for the session's fallback and the filter chain's, so the client sees the same words either way.
/// </summary>
public static class FailureReply
{
    /// <summary>The rule id of a decision made because something failed.</summary>
    public const string Rule = "on_error";

    /// <summary><c>451 4.3.0 Temporary local problem, please try again later</c>.</summary>
    public static SmtpReply Reply { get; } = new(451, "4.3.0", "Temporary local problem, please try again later");

    /// <summary>The tempfail verdict with <see cref="Reply"/> and <see cref="Rule"/>.</summary>
    public static Verdict Tempfail => Verdict.Tempfail(Reply, Rule);
}
