using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Milter.Filters.Ban;
using Milter.Filters.Configuration;
using Milter.Filters.Relay;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Session;

namespace Milter.Filters.Tests;

/// <summary>The chain behind the real protocol session, driven by the real MTA-side client.</summary>
public sealed class OverTheWireTests
{
    [Fact]
    public async Task The_chain_negotiates_only_what_it_needs_and_answers_over_the_wire()
    {
        var chain = new FilterChain(
            [
                new RelayFilter(new RelayOptions { AllowClients = [] }, new LocalDomains(["example.com"])),
                new BanFilter([new BanRule { Kind = BanKind.Subject, Pattern = "(?i)cheap meds", Id = "ban#1" }], null, TimeProvider.System),
            ],
            OnError.Tempfail, new FakeLogger<FilterChain>());
        var sink = new RecordingSink();
        var toFilter = new Pipe();
        var toMta = new Pipe();
        var session = new MilterSession(new DuplexPipe(toFilter.Reader, toMta.Writer), new ChainHandler(chain, sink),
            new SessionOptions(), TimeProvider.System, NullLogger.Instance, 1);
        var running = session.RunAsync(CancellationToken.None);
        await using var mta = new MilterClient(new DuplexPipe(toMta.Reader, toFilter.Writer));

        var agreed = await mta.NegotiateAsync();
        // No body or unknown commands; DATA unused; no waiting where no filter can answer.
        foreach (var flag in new[] { ProtocolFlags.NoBody, ProtocolFlags.NoUnknown, ProtocolFlags.NoData,
                     ProtocolFlags.NoReplyConnect, ProtocolFlags.NoReplyHelo, ProtocolFlags.NoReplyMail, ProtocolFlags.NoReplyHeader })
            Assert.True(agreed.Protocol.HasFlag(flag), $"{flag} not negotiated: {agreed.Protocol}");
        Assert.False(agreed.Protocol.HasFlag(ProtocolFlags.NoReplyRcpt));
        Assert.False(agreed.Protocol.HasFlag(ProtocolFlags.NoReplyEoh));

        await mta.SendMacrosAsync('C', ("{client_addr}", "203.0.113.9"), ("{client_name}", "[203.0.113.9]"));
        await mta.ConnectAsync("[203.0.113.9]", ConnectFamily.Inet, 4000, "203.0.113.9");
        await mta.HeloAsync("mx.outside.example");
        await mta.SendMacrosAsync('M', ("i", "4BCDEF"), ("{auth_authen}", ""));
        await mta.MailAsync("a@outside.example");
        var foreign = await mta.RcptAsync("x@remote.example");
        var local = await mta.RcptAsync("bob@example.com");
        await mta.HeaderAsync("From", "a@outside.example");
        await mta.HeaderAsync("Subject", "=?utf-8?B?Q2hlYXAgbWVkcw==?=");
        var eoh = await mta.EndOfHeadersAsync();
        await mta.QuitAsync();
        await running;

        Assert.Equal("550 5.7.1 Relaying denied", foreign.ToString());
        Assert.Equal(Protocol.Replies.VerdictKind.Continue, local.Kind);
        Assert.Equal("550 5.7.1 Access denied", eoh.ToString());
        Assert.Equal(
            [
                "4BCDEF client=[203.0.113.9] from=<a@outside.example> to=<x@remote.example> Reject 550 5.7.1 Relaying denied filter=relay rule=relay",
                "4BCDEF client=[203.0.113.9] from=<a@outside.example> to=<> Reject 550 5.7.1 Access denied filter=ban rule=ban#1",
            ],
            sink.Lines);
    }
}
