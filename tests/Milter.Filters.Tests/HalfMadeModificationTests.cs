using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Filters.Tests;

/// <summary>
/// A plug-in filter that throws at end of message after it began changing the message: the throw is
/// answered per on_error, and what it had begun to change must not reach the MTA half made
/// (MilterSession drops a failed handler's changes; the chain swallows the throw first).
/// </summary>
public sealed class HalfMadeModificationTests
{
    private sealed class HalfWayFilter : IMilterFilter
    {
        public string Name => "half_way";

        public FilterNeeds Needs { get; } = new(MilterStages.EndOfMessage, new Dictionary<MacroStage, IReadOnlyList<string>>())
        {
            Actions = ActionFlags.AddHeaders,
        };

        public ValueTask<Verdict> OnEndOfMessageAsync(SessionContext session, IMessageModifier modifier, CancellationToken cancellationToken)
        {
            modifier.AddHeader("X-Scan-Part-1", "done");
            throw new IOException("scanner went away before part 2");
        }
    }

    [Theory]
    [InlineData(OnError.Accept)]
    [InlineData(OnError.Tempfail)]
    public async Task A_filter_that_throws_after_adding_a_header_does_not_have_the_half_made_change_sent(OnError onError)
    {
        var chain = new FilterChain([new HalfWayFilter()], onError, new FakeLogger<FilterChain>());
        var eom = await OneMessageAsync(chain);

        Assert.Empty(eom.Modifications);
    }

    private sealed class WholeFilter : IMilterFilter
    {
        public string Name => "whole";

        public FilterNeeds Needs { get; } = new(MilterStages.EndOfMessage, new Dictionary<MacroStage, IReadOnlyList<string>>())
        {
            Actions = ActionFlags.AddHeaders | ActionFlags.ChangeHeaders,
        };

        public ValueTask<Verdict> OnEndOfMessageAsync(SessionContext session, IMessageModifier modifier, CancellationToken cancellationToken)
        {
            modifier.ChangeHeader(1, "X-Old", "");
            modifier.AddHeader("X-Scan", "clean");
            return ValueTask.FromResult(Verdict.Continue);
        }
    }

    [Fact]
    public async Task The_changes_of_a_filter_that_returns_reach_the_mta_in_the_order_it_made_them()
    {
        var chain = new FilterChain([new HalfWayFilter(), new WholeFilter()], OnError.Accept, new FakeLogger<FilterChain>());
        var eom = await OneMessageAsync(chain);

        Assert.Equal([new ChangeHeaderModification(1, "X-Old", ""), new AddHeaderModification("X-Scan", "clean")], eom.Modifications);
    }

    /// <summary>One message through the chain over the wire (the real session and client); the end-of-message answer.</summary>
    private static async Task<MilterResponse> OneMessageAsync(FilterChain chain)
    {
        var toFilter = new Pipe();
        var toMta = new Pipe();
        var session = new MilterSession(new DuplexPipe(toFilter.Reader, toMta.Writer), new ChainHandler(chain, new RecordingSink()),
            new SessionOptions(), TimeProvider.System, NullLogger.Instance, 1);
        var running = session.RunAsync(CancellationToken.None);
        await using var mta = new MilterClient(new DuplexPipe(toMta.Reader, toFilter.Writer));
        await mta.NegotiateAsync();
        await mta.ConnectAsync("client.example", ConnectFamily.Inet, 4000, "203.0.113.9");
        await mta.HeloAsync("client.example");
        await mta.MailAsync("a@outside.example");
        await mta.RcptAsync("bob@example.com");
        var eom = await mta.EndOfMessageAsync();
        await mta.QuitAsync();
        await running;
        return eom;
    }
}
