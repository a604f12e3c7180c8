namespace Milter.Protocol.Wire;

/// <summary>Why a peer's input was refused. Each one closes that connection only.</summary>
public enum ProtocolViolation
{
    /// <summary>A frame length of 0: there is not even a command byte.</summary>
    EmptyFrame = 1,
    /// <summary>A frame length above the configured ceiling; refused before any byte is buffered.</summary>
    FrameTooLarge,
    /// <summary>The peer closed the connection in the middle of a frame.</summary>
    TruncatedFrame,
    /// <summary>A command byte the protocol does not define.</summary>
    UnknownCommand,
    /// <summary>A payload that does not have the command's layout (missing NUL, short integer, bad family).</summary>
    MalformedPayload,
    /// <summary>A command other than OPTNEG before OPTNEG.</summary>
    CommandBeforeNegotiation,
    /// <summary>OPTNEG a second time on one connection.</summary>
    DuplicateNegotiation,
    /// <summary>A protocol version this implementation does not speak (below 2).</summary>
    UnsupportedVersion,
    /// <summary>A command that cannot come in this state (RCPT before MAIL, BODY after EOM, ...).</summary>
    CommandOutOfOrder,
    /// <summary>More macros than the session holds.</summary>
    TooManyMacros,
    /// <summary>The peer sent nothing for longer than the idle timeout.</summary>
    IdleTimeout,
    /// <summary>A reply the client side did not expect (MilterClient only).</summary>
    UnexpectedReply,
    /// <summary>More header bytes in one message than <c>SessionOptions.MaxHeaderBytes</c>.</summary>
    HeadersTooLarge,
}
