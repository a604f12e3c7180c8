namespace Milter.Protocol.Replies;

/// <summary>The final answer a filter gives for a stage.</summary>
public enum VerdictKind : byte
{
    /// <summary>SMFIR_CONTINUE: go on to the next stage.</summary>
    Continue = 0,
    /// <summary>SMFIR_ACCEPT: accept; no more callbacks for this message (connection at CONNECT/HELO).</summary>
    Accept,
    /// <summary>SMFIR_REJECT (or REPLYCODE 5xx): refuse; at RCPT, that recipient only.</summary>
    Reject,
    /// <summary>SMFIR_TEMPFAIL (or REPLYCODE 4xx): try again later; at RCPT, that recipient only.</summary>
    Tempfail,
    /// <summary>SMFIR_DISCARD: accept and silently drop the message.</summary>
    Discard,
    /// <summary>SMFIR_SKIP: BODY only, and only where the MTA offered SMFIP_SKIP: send no more body chunks. Elsewhere it means Continue.</summary>
    Skip,
}
