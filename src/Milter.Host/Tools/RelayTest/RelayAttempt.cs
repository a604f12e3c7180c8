namespace MilterHost.Tools.RelayTest;

/// <summary>What became of one relay trick.</summary>
public enum RelayVerdict
{
    /// <summary>The recipient got a 5xx reply after the server took MAIL FROM.</summary>
    Refused,
    /// <summary>The recipient got a 4xx reply: refused for now, which proves nothing about relaying.</summary>
    Deferred,
    /// <summary>The server took the foreign recipient: an open relay.</summary>
    Accepted,
    /// <summary>
    /// The connection failed before the server answered the recipient, or the server did not take
    /// MAIL FROM: its RCPT reply is then about the missing MAIL ("503 need MAIL"), not about relaying.
    /// </summary>
    NotTried,
}

/// <summary>One trick with the server's replies to its MAIL and RCPT commands (null when none came).</summary>
public sealed record RelayAttempt(RelayTrick Trick, ServerReply? Mail, ServerReply? Rcpt, RelayVerdict Verdict, string? Note = null)
{
    public static RelayVerdict Judge(ServerReply rcpt)
    {
        ArgumentNullException.ThrowIfNull(rcpt);
        return rcpt.IsPositive ? RelayVerdict.Accepted : rcpt.IsTransient ? RelayVerdict.Deferred : RelayVerdict.Refused;
    }

    /// <summary>The attempt with both replies: a recipient refused after a MAIL FROM the server did not take proves nothing.</summary>
    public static RelayAttempt Of(RelayTrick trick, ServerReply mail, ServerReply rcpt)
    {
        ArgumentNullException.ThrowIfNull(mail);
        if (!rcpt.IsPositive && !mail.IsPositive)
            return new RelayAttempt(trick, mail, rcpt, RelayVerdict.NotTried,
                $"the server did not take MAIL FROM ({mail.Code}), so its answer to RCPT says nothing about relaying");
        return new RelayAttempt(trick, mail, rcpt, Judge(rcpt));
    }
}
