using Milter.Protocol.Commands;

namespace Milter.Protocol.Negotiation;

/// <summary>
/// The last OPTNEG answer, kept for the next connection: an MTA offers the same on every
/// connection and every handler of one configuration needs the same, so the answer (macro lists
/// and all) is worked out once per configuration instead of once per connection. Safe to share
/// between sessions: the entry is immutable and swapped whole.
/// </summary>
internal sealed class NegotiationCache
{
    private Entry? _last;

    /// <param name="fresh">True when this offer and these needs were not the last ones: the answer was worked out anew.</param>
    public OptionNegotiation Negotiate(OptionNegotiation offer, HandlerRequirements needs, out bool fresh)
    {
        var last = Volatile.Read(ref _last);
        fresh = last is null || !ReferenceEquals(last.Needs, needs) || last.Offer != offer;
        if (!fresh)
            return last!.Answer;
        var answer = Negotiator.Negotiate(offer, needs);
        Volatile.Write(ref _last, new Entry(needs, offer, answer));
        return answer;
    }

    private sealed record Entry(HandlerRequirements Needs, OptionNegotiation Offer, OptionNegotiation Answer);
}
