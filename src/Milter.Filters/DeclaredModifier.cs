using Milter.Protocol.Negotiation;
using Milter.Protocol.Session;

namespace Milter.Filters;

/// <summary>
/// The end-of-message modifier one filter is handed: it passes on only the changes that filter's
/// <see cref="FilterNeeds.Actions"/> declares, so a filter cannot use a right the MTA granted for
/// another (the MTA's own grant is checked behind it), and only once the filter has returned
/// (<see cref="Commit"/>): a filter that throws half-way through its changes, answered per
/// on_error, sends none of them rather than half of them.
/// </summary>
internal sealed class DeclaredModifier(IMessageModifier inner, ActionFlags declared, string filter) : IMessageModifier
{
    public ActionFlags Granted => inner.Granted & declared;

    public void AddHeader(string name, string value)
    {
        Require(ActionFlags.AddHeaders);
        Defer(m => m.AddHeader(name, value));
    }

    public void InsertHeader(uint index, string name, string value)
    {
        Require(ActionFlags.AddHeaders);
        Defer(m => m.InsertHeader(index, name, value));
    }

    public void ChangeHeader(uint index, string name, string value)
    {
        Require(ActionFlags.ChangeHeaders);
        Defer(m => m.ChangeHeader(index, name, value));
    }

    public void AddRecipient(string recipient, string? esmtpArguments = null)
    {
        Require(esmtpArguments is null ? ActionFlags.AddRecipient : ActionFlags.AddRecipientWithArgs);
        Defer(m => m.AddRecipient(recipient, esmtpArguments));
    }

    public void DeleteRecipient(string recipient)
    {
        Require(ActionFlags.DeleteRecipient);
        Defer(m => m.DeleteRecipient(recipient));
    }

    public void ChangeFrom(string sender, string? esmtpArguments = null)
    {
        Require(ActionFlags.ChangeFrom);
        Defer(m => m.ChangeFrom(sender, esmtpArguments));
    }

    public void ReplaceBody(ReadOnlySpan<byte> chunk)
    {
        Require(ActionFlags.ChangeBody);
        var copy = chunk.ToArray();
        Defer(m => m.ReplaceBody(copy));
    }

    public void Quarantine(string reason)
    {
        Require(ActionFlags.Quarantine);
        Defer(m => m.Quarantine(reason));
    }

    private List<Action<IMessageModifier>>? _changes;

    /// <summary>The filter returned: its changes go to the MTA, in the order it made them.</summary>
    public void Commit()
    {
        if (_changes is null)
            return;
        foreach (var change in _changes)
            change(inner);
        _changes = null;
    }

    private void Defer(Action<IMessageModifier> change) => (_changes ??= []).Add(change);

    private void Require(ActionFlags needed)
    {
        if ((declared & needed) == 0)
            throw new InvalidOperationException($"filter {filter} did not declare the {needed} action in its FilterNeeds.Actions");
    }
}
