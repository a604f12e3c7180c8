using System.Net;

namespace Milter.Filters.Context;

/// <summary>
/// What the chain knows about one SMTP session and its current message, in the postmaster's terms.
/// Filled by the chain from the milter commands and macros; read by the filters. Message fields are
/// reset at ABORT and at each new MAIL.
/// </summary>
public sealed class SessionContext
{
    /// <summary>The client address; null for a local submission or an unknown family.</summary>
    public IPAddress? ClientAddress { get; set; }

    /// <summary>The client's TCP port from CONNECT; 0 for a local submission or an unknown family.</summary>
    public int ClientPort { get; set; }

    /// <summary>
    /// The client host name as sendmail reports it (<c>{client_name}</c> or the CONNECT host name).
    /// Null when the reverse lookup failed (sendmail's <c>[1.2.3.4]</c>, Postfix's <c>unknown</c>).
    /// </summary>
    public string? ClientName { get; set; }

    /// <summary>True for a submission over a local socket (CONNECT family L), or a null client address from sendmail -bs.</summary>
    public bool IsLocalSubmission { get; set; }

    /// <summary>The HELO/EHLO name, once sent.</summary>
    public string? Helo { get; set; }

    /// <summary>The SASL login (<c>{auth_authen}</c>) when the session is authenticated, else null.</summary>
    public string? AuthenticatedUser { get; set; }

    /// <summary>The queue id (macro <c>i</c>), when known.</summary>
    public string? QueueId { get; set; }

    /// <summary>The envelope sender without angle brackets; empty string for the null sender; null before MAIL.</summary>
    public string? Sender { get; set; }

    /// <summary>True when MAIL FROM was <c>&lt;&gt;</c>.</summary>
    public bool IsNullSender => Sender is { Length: 0 };

    /// <summary>Recipients accepted so far in this message (addresses without brackets).</summary>
    public List<string> AcceptedRecipients { get; } = [];

    /// <summary>
    /// Recipients of this message a filter discarded at RCPT (among <see cref="AcceptedRecipients"/>):
    /// deleted at end of message, or the whole message discarded when no other recipient is left.
    /// </summary>
    public HashSet<string> DiscardedRecipients { get; } = [];

    /// <summary>The decoded Subject header, once seen.</summary>
    public string? Subject { get; set; }

    /// <summary>Macro lookup (name with or without braces); null when not sent.</summary>
    public Func<string, string?> Macro { get; set; } = static _ => null;

    /// <summary>Per-message scratch state for filters, under each filter's own <see cref="StateKey{T}"/>; cleared with the message.</summary>
    public FilterState MessageState { get; } = new();

    /// <summary>Per-SMTP-session scratch state for filters, under each filter's own <see cref="StateKey{T}"/>.</summary>
    public FilterState SessionState { get; } = new();

    /// <summary>Clears everything that belongs to the current message (ABORT, new MAIL).</summary>
    public void ResetMessage()
    {
        QueueId = null;
        Sender = null;
        Subject = null;
        AcceptedRecipients.Clear();
        DiscardedRecipients.Clear();
        MessageState.Clear();
    }

    /// <summary>A short description for log lines: <c>name [addr]</c>.</summary>
    public string ClientDisplay =>
        ClientAddress is null ? (IsLocalSubmission ? "local" : "unknown")
        : string.IsNullOrEmpty(ClientName) ? $"[{ClientAddress}]" : $"{ClientName} [{ClientAddress}]";
}
