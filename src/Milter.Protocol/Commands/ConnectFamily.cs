namespace Milter.Protocol.Commands;

/// <summary>The protocol family byte of SMFIC_CONNECT (SMFIA_*).</summary>
public enum ConnectFamily : byte
{
    Unknown = (byte)'U', // SMFIA_UNKNOWN: nothing follows the family byte
    Unix = (byte)'L',    // SMFIA_UNIX: a local (Unix socket) submission
    Inet = (byte)'4',    // SMFIA_INET
    Inet6 = (byte)'6',   // SMFIA_INET6
}
