namespace MilterHost.Tools.LogScan;

/// <summary>What a line contributes: an abuse event, or a clue tying a queue id or pid to its client.</summary>
internal enum LineRole
{
    /// <summary>Well formed but says nothing about abuse or clients (deliveries, STARTTLS, ...).</summary>
    Other,
    /// <summary>An abuse event; <see cref="MaillogMessage.Client"/> may be missing (milter refusals).</summary>
    Event,
    /// <summary><c>NOQUEUE: connect from name [ip]</c>: the client of this pid.</summary>
    Connect,
    /// <summary><c>QID: from=&lt;s&gt;, ..., relay=name [ip]</c>: the client of this queue id.</summary>
    Envelope,
    /// <summary><c>AUTH=server, relay=name [ip], authid=...</c>: this pid's session authenticated.</summary>
    AuthSession,
    /// <summary>A refusal line that does not split one way alone (client text that reads as sendmail's fields): names nobody.</summary>
    Ambiguous,
}

/// <summary>Who wrote an event line; the same refusal logged by both is counted once.</summary>
internal enum EventSource { Sendmail, MilterHost }

/// <summary>
/// The meaning of one maillog message (the part after <c>PROGRAM[PID]: </c>). <see cref="Authenticated"/>:
/// milterhost's line says the session authenticated (<c>auth=</c>), so the refusal is a user's mistake.
/// </summary>
internal readonly record struct MaillogMessage(
    LineRole Role,
    string? QueueId = null,
    EventKind Kind = default,
    ClientAddress? Client = null,
    bool LocalSubmission = false,
    EventSource Source = EventSource.Sendmail,
    string? Fingerprint = null,
    bool Authenticated = false)
{
    public static MaillogMessage Other { get; } = new(LineRole.Other);
}
