namespace Milter.Protocol.Negotiation;

/// <summary>The stages of an SMTP transaction a handler can ask to see.</summary>
[Flags]
public enum MilterStages : uint
{
    None = 0,
    Connect = 1 << 0,
    Helo = 1 << 1,
    Mail = 1 << 2,
    Rcpt = 1 << 3,
    Data = 1 << 4,
    Header = 1 << 5,
    EndOfHeaders = 1 << 6,
    Body = 1 << 7,
    Unknown = 1 << 8,
    /// <summary>End of message is always sent by the MTA; listed for completeness.</summary>
    EndOfMessage = 1 << 9,
    All = (1 << 10) - 1,
}
