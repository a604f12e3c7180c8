using Milter.Protocol.Replies;

namespace Milter.Filters;

/// <summary>
/// A decision the chain made: the verdict, the filter and rule that made it, the stage, and the
/// recipient it concerns (RCPT only). Logged on one line and printed by <c>simulate</c>.
/// </summary>
public sealed record Decision(string Stage, Verdict Verdict, string? Filter, string? Rule, string? Recipient = null)
{
    /// <summary>
    /// False for the decision of a filter in monitor mode: logged and counted like any other, but the
    /// MTA was told to continue and the later filters ran.
    /// </summary>
    public bool Applied { get; init; } = true;
}
