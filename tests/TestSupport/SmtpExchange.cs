namespace Milter.TestSupport;

/// <summary>
/// A client command and the reply to it. <see cref="Command"/> is null for the greeting and
/// <c>.</c> for the end of the message data.
/// </summary>
public sealed record SmtpExchange(string? Command, SmtpResponse Response)
{
    /// <summary>True when the command starts with <paramref name="verb"/> (<c>RCPT</c>, <c>MAIL</c>, ...), case-insensitive.</summary>
    public bool IsFor(string verb) =>
        Command is not null
        && Command.StartsWith(verb, StringComparison.OrdinalIgnoreCase)
        && (Command.Length == verb.Length || Command[verb.Length] is ' ' or ':');
}
