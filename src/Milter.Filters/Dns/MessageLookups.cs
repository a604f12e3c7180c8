using Milter.Filters.Context;

namespace Milter.Filters.Dns;

/// <summary>The DNS lookups of one message, started at MAIL and awaited at RCPT; kept in the message state.</summary>
internal sealed class MessageLookups(Task<DnsFacts> facts)
{
    public static readonly StateKey<MessageLookups> StateKey = new("dns");

    /// <summary>Completes within <c>dns.timeout</c> of the start and never faults.</summary>
    public Task<DnsFacts> Facts { get; } = facts;
}
