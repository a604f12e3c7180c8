namespace Milter.Protocol.Replies;

/// <summary>An end-of-message change the filter asks of the MTA. Only legal at EOM.</summary>
public abstract record Modification;

/// <summary>SMFIR_ADDHEADER.</summary>
public sealed record AddHeaderModification(string Name, string Value) : Modification;

/// <summary>SMFIR_INSHEADER: insert at a 0-based index.</summary>
public sealed record InsertHeaderModification(uint Index, string Name, string Value) : Modification;

/// <summary>SMFIR_CHGHEADER: the index-th (1-based) header of that name; an empty value deletes it.</summary>
public sealed record ChangeHeaderModification(uint Index, string Name, string Value) : Modification;

/// <summary>SMFIR_ADDRCPT, or SMFIR_ADDRCPT_PAR when <see cref="Arguments"/> is set.</summary>
public sealed record AddRecipientModification(string Recipient, string? Arguments = null) : Modification;

/// <summary>SMFIR_DELRCPT.</summary>
public sealed record DeleteRecipientModification(string Recipient) : Modification;

/// <summary>SMFIR_CHGFROM.</summary>
public sealed record ChangeFromModification(string Sender, string? Arguments = null) : Modification;

/// <summary>SMFIR_REPLBODY: one chunk of the new body.</summary>
public sealed record ReplaceBodyModification(ReadOnlyMemory<byte> Chunk) : Modification;

/// <summary>SMFIR_QUARANTINE.</summary>
public sealed record QuarantineModification(string Reason) : Modification;
