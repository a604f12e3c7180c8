using Milter.Protocol.Negotiation;

namespace Milter.Protocol.Session;

/// <summary>
/// The end-of-message modification actions. Only available inside
/// <see cref="IMilterHandler.OnEndOfMessageAsync"/>; each throws <see cref="InvalidOperationException"/>
/// when the matching action flag was not negotiated. Modifications are sent, in call order, before
/// the final verdict.
/// </summary>
public interface IMessageModifier
{
    /// <summary>
    /// The actions the MTA granted in its negotiation (and, for a filter of the chain, that the filter
    /// declared). A change whose action is missing throws; a filter whose change is optional (an
    /// informational header) checks here first and leaves it out.
    /// </summary>
    ActionFlags Granted { get; }

    /// <summary>SMFIR_ADDHEADER (SMFIF_ADDHDRS): append a header.</summary>
    void AddHeader(string name, string value);

    /// <summary>SMFIR_INSHEADER (SMFIF_ADDHDRS): insert a header at a 0-based index.</summary>
    void InsertHeader(uint index, string name, string value);

    /// <summary>SMFIR_CHGHEADER (SMFIF_CHGHDRS): change the index-th (1-based) header of that name; an empty value deletes it.</summary>
    void ChangeHeader(uint index, string name, string value);

    /// <summary>SMFIR_ADDRCPT (SMFIF_ADDRCPT), or SMFIR_ADDRCPT_PAR with ESMTP arguments (SMFIF_ADDRCPT_PAR).</summary>
    void AddRecipient(string recipient, string? esmtpArguments = null);

    /// <summary>SMFIR_DELRCPT (SMFIF_DELRCPT).</summary>
    void DeleteRecipient(string recipient);

    /// <summary>SMFIR_CHGFROM (SMFIF_CHGFROM).</summary>
    void ChangeFrom(string sender, string? esmtpArguments = null);

    /// <summary>SMFIR_REPLBODY (SMFIF_CHGBODY): replace the body; may be called several times for a large body.</summary>
    void ReplaceBody(ReadOnlySpan<byte> chunk);

    /// <summary>SMFIR_QUARANTINE (SMFIF_QUARANTINE).</summary>
    void Quarantine(string reason);
}
