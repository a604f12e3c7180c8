using Milter.Protocol.Negotiation;
using Milter.Protocol.Session;

namespace Milter.Filters;

/// <summary>
/// The end-of-message modifier one filter is handed: it passes on only the changes that filter's
/// <see cref="FilterNeeds.Actions"/> declares, so a filter cannot use a right the MTA granted for
/// another. The MTA's own grant is checked behind it.
/// </summary>
internal sealed class DeclaredModifier(IMessageModifier inner, ActionFlags declared, string filter) : IMessageModifier
{
    public ActionFlags Granted => inner.Granted & declared;

    public void AddHeader(string name, string value)
    {
        Require(ActionFlags.AddHeaders);
        inner.AddHeader(name, value);
    }

    public void InsertHeader(uint index, string name, string value)
    {
        Require(ActionFlags.AddHeaders);
        inner.InsertHeader(index, name, value);
    }

    public void ChangeHeader(uint index, string name, string value)
    {
        Require(ActionFlags.ChangeHeaders);
        inner.ChangeHeader(index, name, value);
    }

    public void AddRecipient(string recipient, string? esmtpArguments = null)
    {
        Require(esmtpArguments is null ? ActionFlags.AddRecipient : ActionFlags.AddRecipientWithArgs);
        inner.AddRecipient(recipient, esmtpArguments);
    }

    public void DeleteRecipient(string recipient)
    {
        Require(ActionFlags.DeleteRecipient);
        inner.DeleteRecipient(recipient);
    }

    public void ChangeFrom(string sender, string? esmtpArguments = null)
    {
        Require(ActionFlags.ChangeFrom);
        inner.ChangeFrom(sender, esmtpArguments);
    }

    public void ReplaceBody(ReadOnlySpan<byte> chunk)
    {
        Require(ActionFlags.ChangeBody);
        inner.ReplaceBody(chunk);
    }

    public void Quarantine(string reason)
    {
        Require(ActionFlags.Quarantine);
        inner.Quarantine(reason);
    }

    private void Require(ActionFlags needed)
    {
        if ((declared & needed) == 0)
            throw new InvalidOperationException($"filter {filter} did not declare the {needed} action in its FilterNeeds.Actions");
    }
}
