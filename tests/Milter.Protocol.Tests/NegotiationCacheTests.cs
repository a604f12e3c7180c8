using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;

namespace Milter.Protocol.Tests;

/// <summary>The answer shared between the connections of one configuration.</summary>
public sealed class NegotiationCacheTests
{
    private static readonly OptionNegotiation Sendmail = new(6, ActionFlags.All, (ProtocolFlags)0x1fffff);

    private static HandlerRequirements Needs() => new()
    {
        Stages = MilterStages.Connect | MilterStages.Rcpt | MilterStages.EndOfMessage,
        Macros = new Dictionary<MacroStage, IReadOnlyList<string>> { [MacroStage.Connect] = ["{client_addr}"] },
    };

    [Fact]
    public void The_same_offer_and_needs_get_the_answer_computed_the_first_time()
    {
        var cache = new NegotiationCache();
        var needs = Needs();
        var first = cache.Negotiate(Sendmail, needs, out var firstFresh);
        var second = cache.Negotiate(Sendmail with { }, needs, out var secondFresh);
        Assert.Same(first, second);
        Assert.Equal((true, false), (firstFresh, secondFresh));
        AssertSameAnswer(Negotiator.Negotiate(Sendmail, needs), first);
    }

    [Fact]
    public void New_needs_after_a_reload_or_another_offer_are_negotiated_afresh()
    {
        var cache = new NegotiationCache();
        var needs = Needs();
        var before = cache.Negotiate(Sendmail, needs, out _);
        var reloaded = needs with { Stages = needs.Stages | MilterStages.Helo };
        var after = cache.Negotiate(Sendmail, reloaded, out var fresh);
        Assert.True(fresh);
        AssertSameAnswer(Negotiator.Negotiate(Sendmail, reloaded), after);
        Assert.NotEqual(before.Protocol, after.Protocol);
        var postfix = cache.Negotiate(Sendmail with { Protocol = (ProtocolFlags)0xff }, reloaded, out fresh);
        Assert.True(fresh);
        AssertSameAnswer(Negotiator.Negotiate(Sendmail with { Protocol = (ProtocolFlags)0xff }, reloaded), postfix);
    }

    [Fact]
    public void The_reply_frame_is_encoded_once_with_the_answer()
    {
        var cache = new NegotiationCache();
        var needs = Needs();
        var answer = cache.Negotiate(Sendmail, needs, out _, out var first);
        cache.Negotiate(Sendmail with { }, needs, out _, out var second);

        var expected = new System.Buffers.ArrayBufferWriter<byte>();
        CommandCodec.WriteOptionNegotiation(expected, (byte)'O', answer);
        Assert.Equal(expected.WrittenSpan.ToArray(), first.ToArray());
        Assert.True(first.Equals(second)); // the same bytes, not a second encoding
    }

    // OptionNegotiation compares its macro lists by reference; compare what goes on the wire.
    private static void AssertSameAnswer(OptionNegotiation expected, OptionNegotiation actual)
    {
        Assert.Equal((expected.Version, expected.Actions, expected.Protocol), (actual.Version, actual.Actions, actual.Protocol));
        Assert.Equal(expected.MacroLists?.OrderBy(kv => kv.Key), actual.MacroLists?.OrderBy(kv => kv.Key));
    }
}
