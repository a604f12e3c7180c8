namespace Milter.Protocol.Negotiation;

/// <summary>SMFIF_* action flags: what a filter may do at end of message (mfdef.h).</summary>
[Flags]
public enum ActionFlags : uint
{
    None = 0,
    AddHeaders = 0x01,      // SMFIF_ADDHDRS
    ChangeBody = 0x02,      // SMFIF_CHGBODY
    AddRecipient = 0x04,    // SMFIF_ADDRCPT
    DeleteRecipient = 0x08, // SMFIF_DELRCPT
    ChangeHeaders = 0x10,   // SMFIF_CHGHDRS
    Quarantine = 0x20,      // SMFIF_QUARANTINE
    ChangeFrom = 0x40,      // SMFIF_CHGFROM, v6
    AddRecipientWithArgs = 0x80, // SMFIF_ADDRCPT_PAR, v6
    SetSymbolList = 0x100,  // SMFIF_SETSYMLIST, v6
    All = 0x1ff,
}
