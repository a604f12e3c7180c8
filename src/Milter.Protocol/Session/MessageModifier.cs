using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Protocol.Session;

/// <summary>Collects end-of-message modifications, checking each against the negotiated actions.</summary>
internal sealed class MessageModifier(ActionFlags agreed) : IMessageModifier
{
    private List<Modification>? _list;

    public IReadOnlyList<Modification> Modifications => (IReadOnlyList<Modification>?)_list ?? [];

    public ActionFlags Granted => agreed;

    public void AddHeader(string name, string value) => Add(ActionFlags.AddHeaders, new AddHeaderModification(name, value));

    public void InsertHeader(uint index, string name, string value) => Add(ActionFlags.AddHeaders, new InsertHeaderModification(index, name, value));

    public void ChangeHeader(uint index, string name, string value) => Add(ActionFlags.ChangeHeaders, new ChangeHeaderModification(index, name, value));

    public void AddRecipient(string recipient, string? esmtpArguments = null) =>
        Add(esmtpArguments is null ? ActionFlags.AddRecipient : ActionFlags.AddRecipientWithArgs, new AddRecipientModification(recipient, esmtpArguments));

    public void DeleteRecipient(string recipient) => Add(ActionFlags.DeleteRecipient, new DeleteRecipientModification(recipient));

    public void ChangeFrom(string sender, string? esmtpArguments = null) => Add(ActionFlags.ChangeFrom, new ChangeFromModification(sender, esmtpArguments));

    public void ReplaceBody(ReadOnlySpan<byte> chunk) => Add(ActionFlags.ChangeBody, new ReplaceBodyModification(chunk.ToArray()));

    public void Quarantine(string reason) => Add(ActionFlags.Quarantine, new QuarantineModification(reason));

    private void Add(ActionFlags needed, Modification m)
    {
        if ((agreed & needed) == 0)
            throw new InvalidOperationException($"{m.GetType().Name} needs the {needed} action, which was not negotiated with the MTA");
        (_list ??= []).Add(m);
    }
}
