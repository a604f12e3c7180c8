using Milter.Protocol.Commands;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Negotiation;

/// <summary>
/// The last OPTNEG answer, kept for the next connection: an MTA offers the same on every
/// connection and every handler of one configuration needs the same, so the answer (macro lists
/// and all) is worked out and encoded once per configuration instead of once per connection. Safe to share
/// between sessions: the entry is immutable and swapped whole.
/// </summary>
internal sealed class NegotiationCache
{
    private Entry? _last;

    /// <param name="fresh">True when this offer and these needs were not the last ones: the answer was worked out anew.</param>
    public OptionNegotiation Negotiate(OptionNegotiation offer, HandlerRequirements needs, out bool fresh) =>
        Negotiate(offer, needs, out fresh, out _);

    /// <param name="reply">The answer as the OPTNEG reply frame, encoded with the answer.</param>
    public OptionNegotiation Negotiate(OptionNegotiation offer, HandlerRequirements needs, out bool fresh, out ReadOnlyMemory<byte> reply)
    {
        var last = Volatile.Read(ref _last);
        fresh = last is null || !ReferenceEquals(last.Needs, needs) || last.Offer != offer;
        if (!fresh)
        {
            reply = last!.Reply;
            return last.Answer;
        }
        var answer = Negotiator.Negotiate(offer, needs);
        var frame = new System.Buffers.ArrayBufferWriter<byte>();
        CommandCodec.WriteOptionNegotiation(frame, (byte)ReplyCode.OptionNegotiation, answer);
        reply = frame.WrittenMemory;
        Volatile.Write(ref _last, new Entry(needs, offer, answer, reply));
        return answer;
    }

    private sealed record Entry(HandlerRequirements Needs, OptionNegotiation Offer, OptionNegotiation Answer, ReadOnlyMemory<byte> Reply);
}
