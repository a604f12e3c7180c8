namespace Milter.Protocol.Wire;

/// <summary>SMFIC_*: the commands the MTA sends to the filter (mfdef.h).</summary>
public enum CommandCode : byte
{
    Abort = (byte)'A',       // SMFIC_ABORT: message abandoned; no reply
    Body = (byte)'B',        // SMFIC_BODY: a body chunk
    Connect = (byte)'C',     // SMFIC_CONNECT
    Macro = (byte)'D',       // SMFIC_MACRO: macros for the next command; no reply
    EndOfMessage = (byte)'E',// SMFIC_BODYEOB
    Helo = (byte)'H',        // SMFIC_HELO
    QuitNewConnection = (byte)'K', // SMFIC_QUIT_NC, v6: new SMTP session follows on this connection
    Header = (byte)'L',      // SMFIC_HEADER
    Mail = (byte)'M',        // SMFIC_MAIL
    EndOfHeaders = (byte)'N',// SMFIC_EOH
    OptionNegotiation = (byte)'O', // SMFIC_OPTNEG
    Quit = (byte)'Q',        // SMFIC_QUIT: no reply
    Rcpt = (byte)'R',        // SMFIC_RCPT
    Data = (byte)'T',        // SMFIC_DATA, v4
    Unknown = (byte)'U',     // SMFIC_UNKNOWN, v3
}
