using Milter.Protocol.Replies;

namespace Milter.Filters;

/// <summary>
/// A decision the chain made: the verdict, the filter and rule that made it, the stage, and the
/// recipient it concerns (RCPT only). Logged on one line and printed by <c>simulate</c>.
/// </summary>
public sealed record Decision(string Stage, Verdict Verdict, string? Filter, string? Rule, string? Recipient = null);
