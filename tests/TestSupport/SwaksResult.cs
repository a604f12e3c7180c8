namespace Milter.TestSupport;

/// <summary>What swaks saw: its exit code, its transcript, and every reply paired with the command it answered.</summary>
/// <param name="ExitCode">swaks' exit code: 0 when the message went through, 2x when a step failed (23 MAIL, 24 RCPT, 25 DATA, 26 end of data...).</param>
/// <param name="Transcript">swaks' output (stdout and stderr together), for failure messages.</param>
/// <param name="Exchanges">The greeting and each command with its reply, in order.</param>
public sealed record SwaksResult(int ExitCode, string Transcript, IReadOnlyList<SmtpExchange> Exchanges)
{
    /// <summary>The server's greeting, or null when none came.</summary>
    public SmtpResponse? Greeting => Exchanges.FirstOrDefault(e => e.Command is null)?.Response;

    /// <summary>The reply to the end of the message data (after the body's final dot), or null when the session did not get there.</summary>
    public SmtpResponse? FinalReply => Exchanges.LastOrDefault(e => e.Command == ".")?.Response;

    /// <summary>The queue id from an accepting <see cref="FinalReply"/>, or null.</summary>
    public string? QueueId => FinalReply?.AcceptedQueueId;

    /// <summary>The replies to every command with this verb (<c>RCPT</c>: one per recipient), in order.</summary>
    public IReadOnlyList<SmtpResponse> RepliesTo(string verb) => [.. Exchanges.Where(e => e.IsFor(verb)).Select(e => e.Response)];

    /// <summary>The reply to the one command with this verb, or null when it was never sent.</summary>
    /// <exception cref="InvalidOperationException">It was sent more than once; use <see cref="RepliesTo"/>.</exception>
    public SmtpResponse? ReplyTo(string verb)
    {
        var replies = RepliesTo(verb);
        return replies.Count <= 1
            ? replies.FirstOrDefault()
            : throw new InvalidOperationException($"{verb} was sent {replies.Count} times; use {nameof(RepliesTo)}.");
    }

    /// <inheritdoc/>
    public override string ToString() => Transcript;
}
