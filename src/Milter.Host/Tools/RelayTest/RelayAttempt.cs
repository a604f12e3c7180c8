namespace MilterHost.Tools.RelayTest;

/// <summary>What became of one relay trick.</summary>
public enum RelayVerdict
{
    /// <summary>The recipient got a 5xx reply (or MAIL did, and RCPT was not taken either).</summary>
    Refused,
    /// <summary>The recipient got a 4xx reply: refused for now, which proves nothing about relaying.</summary>
    Deferred,
    /// <summary>The server took the foreign recipient: an open relay.</summary>
    Accepted,
    /// <summary>The connection failed before the server answered the recipient.</summary>
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
}
