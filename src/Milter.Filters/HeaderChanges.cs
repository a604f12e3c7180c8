using Milter.Protocol.Negotiation;
using Milter.Protocol.Session;

namespace Milter.Filters;

/// <summary>Whether the headers our filters write (X-Greylist, Received-SPF) can be written at all.</summary>
internal static class HeaderChanges
{
    /// <summary>Both adding and removing: our filters replace what a client forged with their own, never just one half.</summary>
    public const ActionFlags Needed = ActionFlags.AddHeaders | ActionFlags.ChangeHeaders;

    /// <summary>False when the MTA did not grant <see cref="Needed"/>: the header is informational, so the message goes on without it.</summary>
    public static bool Granted(IMessageModifier modifier) => (modifier.Granted & Needed) == Needed;
}
