namespace Milter.Protocol.Wire;

/// <summary>SMFIR_*: the replies the filter sends to the MTA (mfdef.h).</summary>
public enum ReplyCode : byte
{
    AddRecipient = (byte)'+',          // SMFIR_ADDRCPT
    DeleteRecipient = (byte)'-',       // SMFIR_DELRCPT
    AddRecipientWithArgs = (byte)'2',  // SMFIR_ADDRCPT_PAR, v6
    Shutdown = (byte)'4',              // SMFIR_SHUTDOWN: 421 and close (sendmail internal)
    Accept = (byte)'a',                // SMFIR_ACCEPT
    ReplaceBody = (byte)'b',           // SMFIR_REPLBODY
    Continue = (byte)'c',              // SMFIR_CONTINUE
    Discard = (byte)'d',               // SMFIR_DISCARD
    ChangeFrom = (byte)'e',            // SMFIR_CHGFROM, v6
    ConnectionFailure = (byte)'f',     // SMFIR_CONN_FAIL
    AddHeader = (byte)'h',             // SMFIR_ADDHEADER
    InsertHeader = (byte)'i',          // SMFIR_INSHEADER
    SetSymbolList = (byte)'l',         // SMFIR_SETSYMLIST, v6
    ChangeHeader = (byte)'m',          // SMFIR_CHGHEADER
    Progress = (byte)'p',              // SMFIR_PROGRESS
    Quarantine = (byte)'q',            // SMFIR_QUARANTINE
    Reject = (byte)'r',                // SMFIR_REJECT
    Skip = (byte)'s',                  // SMFIR_SKIP, v6
    Tempfail = (byte)'t',              // SMFIR_TEMPFAIL
    ReplyCode = (byte)'y',             // SMFIR_REPLYCODE
    OptionNegotiation = (byte)'O',     // the OPTNEG answer
}
