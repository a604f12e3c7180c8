namespace Milter.TestSupport;

/// <summary>
/// One header of a queued message as sendmail stored it. A folded value keeps its line breaks
/// as <c>\n</c> followed by the continuation's leading whitespace.
/// </summary>
public sealed record QueuedHeader(string Name, string Value);
