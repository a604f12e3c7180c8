using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Milter.Filters.Configuration;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Greylist;

/// <summary>
/// An MTA that speaks milter protocol 2 (sendmail before 8.14, Postfix with milter_protocol = 2) sends
/// no DATA: the per-message deferral comes at end of message instead, over the wire.
/// </summary>
public sealed class GreylistOldProtocolTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "milterhost-oldproto-" + Guid.NewGuid().ToString("N"));
    private MilterStores _stores = null!;

    public async Task InitializeAsync() =>
        _stores = await StoreFactory.OpenAsync("sqlite:" + Path.Combine(_folder, "g.db"), Clock(), null, new StoreOptions());

    public async Task DisposeAsync()
    {
        await _stores.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Theory]
    // Postfix with milter_protocol = 2 offers version 2 and only the v2 "no event" bits.
    [InlineData(2u, 0x3fu, 0x7fu)]
    [InlineData(6u, 0x1ffu, 0x1fffffu)]
    public async Task A_first_attempt_is_deferred_whether_or_not_the_MTA_sends_DATA(uint version, uint actions, uint protocol)
    {
        var clock = Clock();
        var filter = new GreylistFilter(_stores.Greylist.Check, Options, new RelayOptions().AllowClients, clock, NullLogger<GreylistFilter>.Instance);
        var chain = new FilterChain([filter], OnError.Tempfail, NullLogger<FilterChain>.Instance);
        var toFilter = new Pipe();
        var toMta = new Pipe();
        var session = new MilterSession(new DuplexPipe(toFilter.Reader, toMta.Writer), new ChainHandler(chain, new RecordingSink()),
            new SessionOptions(), TimeProvider.System, NullLogger.Instance, 1);
        var running = session.RunAsync(CancellationToken.None);
        await using var mta = new MilterClient(new DuplexPipe(toMta.Reader, toFilter.Writer));

        var agreed = await mta.NegotiateAsync(new OptionNegotiation(version, (ActionFlags)actions, (ProtocolFlags)protocol));
        await mta.ConnectAsync("[203.0.113.9]", ConnectFamily.Inet, 4000, "203.0.113.9");
        await mta.HeloAsync("mx.outside.example");
        await mta.MailAsync("<a@outside.example>");
        var rcpt = await mta.RcptAsync("<bob@example.com>");
        MilterResponse answer;
        if (version >= 4)
        {
            answer = await mta.DataAsync();
        }
        else
        {
            await mta.HeaderAsync("From", "a@outside.example");
            await mta.EndOfHeadersAsync();
            answer = await mta.EndOfMessageAsync();
        }
        await mta.QuitAsync();
        await running;

        Assert.Equal(version, agreed.Version);
        Assert.Equal(VerdictKind.Continue, rcpt.Kind);
        Assert.Equal(VerdictKind.Tempfail, answer.Kind);
        Assert.StartsWith("451 4.7.1 Greylisted", answer.ToString(), StringComparison.Ordinal);
    }
}
