using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Ban;
using Milter.Filters.Configuration;
using Milter.Filters.Dns;
using Milter.Filters.Greylist;
using Milter.Filters.Relay;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using Milter.TestSupport;

namespace Milter.Filters.Tests.Dns;

/// <summary>
/// <c>greylist.spf_pools</c> against a real DNS server (dnsmasq) and a real SQLite store: a sender
/// domain is a pool only when its SPF pass can only have come from mechanisms that name a bounded
/// set of hosts; a record that lets the whole Internet (or a wide part of it) pass keeps the plain
/// subnet triplet. Bypass-ban strikes count under the key that passed.
/// </summary>
public sealed class SpfPoolTests : IAsyncLifetime
{
    private const string Deferred120 = "451 4.7.1 Greylisted, please retry in 120 seconds";

    private readonly TempDirectory _folder = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
    private MilterStores _stores = null!;
    private PrivateDns _dns = null!;
    private DnsResolver _resolver = null!;

    public async Task InitializeAsync()
    {
        _stores = await StoreFactory.OpenAsync("sqlite:" + Path.Combine(_folder.Path, "milterhost.db"), _clock, null, new StoreOptions());
        _dns = await PrivateDns.StartAsync(new PrivateDnsRecords()
            .Txt("narrow.example", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip6:2001:db8:5::/48 a:out.narrow.example mx/24 -all")
            .A("out.narrow.example", "203.0.113.77")
            .Mx("narrow.example", "mx.narrow.example")
            .A("mx.narrow.example", "192.0.2.1")
            .Txt("included.example", "v=spf1 include:_spf.included.example -all")
            .Txt("_spf.included.example", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 -all")
            .Txt("plusall.example", "v=spf1 +all")
            .Txt("bareall.example", "v=spf1 ip4:192.0.2.0/24 all")
            .Txt("ptr.example", "v=spf1 ptr -all")
            .Ptr("192.0.2.5", "mx5.ptr.example")
            .Ptr("198.51.100.9", "mx9.ptr.example")
            .A("mx5.ptr.example", "192.0.2.5")
            .A("mx9.ptr.example", "198.51.100.9")
            .Txt("exists.example", "v=spf1 exists:%{i}.any.exists.example -all")
            .A("any.exists.example", "127.0.0.2")
            .Txt("wide4.example", "v=spf1 ip4:192.0.0.0/8 ip4:198.0.0.0/8 -all")
            .Txt("half.example", "v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all")
            .Txt("wide6.example", "v=spf1 ip6:2000::/3 -all")
            .Txt("widea.example", "v=spf1 a:out.widea.example/8 -all")
            .A("out.widea.example", "192.0.2.1")
            .Txt("widemx.example", "v=spf1 mx/8 -all")
            .Mx("widemx.example", "mx.widemx.example")
            .A("mx.widemx.example", "192.0.2.1")
            .Txt("includeall.example", "v=spf1 include:_spf.includeall.example -all")
            .Txt("_spf.includeall.example", "v=spf1 ip4:192.0.2.0/24 +all")
            .Txt("redirectall.example", "v=spf1 redirect=_spf.includeall.example"), "127.0.0.55");
        _resolver = new DnsResolver([_dns.Endpoint], TimeSpan.FromSeconds(2), _clock);
    }

    public async Task DisposeAsync()
    {
        _resolver.Dispose();
        await _dns.DisposeAsync();
        await _stores.DisposeAsync();
        _folder.Dispose();
    }

    private static MilterOptions Options() => new()
    {
        LocalDomains = ["example.com"],
        Relay = new RelayOptions { AllowClients = [IPNetwork.Parse("127.0.0.1/32")] },
        Recipients = new RecipientsOptions { RejectUnknown = false },
        Ban = [new BanRule { Kind = BanKind.Recipient, Pattern = "gone@example.com", Id = "ban#1" }],
        Greylist = new GreylistOptions(),
        Dns = new DnsOptions { Timeout = TimeSpan.FromSeconds(2) },
    };

    private FilterChain Chain(MilterOptions options)
    {
        var checks = new DnsChecks(_resolver, options, _clock, NullLogger<DnsChecks>.Instance);
        var inputs = new FilterChainInputs
        {
            LocalDomains = new LocalDomains(["example.com"]),
            Greylist = [new GreylistFilter(_stores.Greylist.Check, options.Greylist, options.Relay.AllowClients, checks, _clock, NullLogger<GreylistFilter>.Instance)],
        };
        return new FilterChainFactory(_clock, NullLoggerFactory.Instance).Create(options, inputs);
    }

    private static Task<TransactionResult> SendAsync(FilterChain chain, string client, string sender, params string[] recipients) =>
        DnsPolicyTests.SendAsync(chain, client, sender, recipients);

    private async Task<IReadOnlyList<string>> TripletClientsAsync() =>
        [.. (await DnsPolicyTests.TripletClientsAsync(_stores.Greylist, _clock.GetUtcNow())).Order(StringComparer.Ordinal)];

    [Theory]
    [InlineData("narrow.example")]
    [InlineData("included.example")]
    public async Task A_record_of_bounded_mechanisms_pools_its_servers(string domain)
    {
        var chain = Chain(Options());

        var first = await SendAsync(chain, "192.0.2.5", "alice@" + domain, "bob@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        var retry = await SendAsync(chain, "198.51.100.9", "alice@" + domain, "bob@example.com");

        Assert.Equal(Deferred120, first.Heard("DATA"));
        Assert.Equal("continue", retry.Heard("DATA"));
        Assert.Equal(["spf:" + domain], await TripletClientsAsync());
    }

    [Fact]
    public async Task A_pass_is_judged_for_a_pool_only_when_asked_and_unjudged_it_is_none()
    {
        // Judging reads the record again and looks up its a and mx hosts' addresses: work a message
        // needs only under greylist.spf_pools.
        var verifier = new SpfVerifier(_resolver);

        var unjudged = await verifier.CheckAsync(IPAddress.Parse("192.0.2.5"), "narrow.example", "alice@narrow.example", null, default, judgePool: false);
        var judged = await verifier.CheckAsync(IPAddress.Parse("192.0.2.5"), "narrow.example", "alice@narrow.example", null, default);

        Assert.Equal((SpfResult.Pass, false, false), (unjudged.Result, unjudged.PoolJudged, unjudged.IsPool));
        Assert.Equal((SpfResult.Pass, true), (judged.Result, judged.IsPool));
    }

    [Theory]
    [InlineData("plusall.example")]       // v=spf1 +all
    [InlineData("bareall.example")]       // "all" without a qualifier passes
    [InlineData("ptr.example")]           // any client with a matching PTR record
    [InlineData("exists.example")]        // exists:%{i}... against a wildcard
    [InlineData("wide4.example")]         // ip4 /8
    [InlineData("half.example")]          // ip4 /1 twice: every IPv4 address
    [InlineData("widea.example")]         // a:name/8
    [InlineData("widemx.example")]        // mx/8
    [InlineData("includeall.example")]    // +all reached through include:
    [InlineData("redirectall.example")]   // +all reached through redirect=
    public async Task A_record_that_passes_a_wide_part_of_the_internet_is_no_pool(string domain)
    {
        var chain = Chain(Options());

        await SendAsync(chain, "192.0.2.5", "alice@" + domain, "bob@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        var retry = await SendAsync(chain, "198.51.100.9", "alice@" + domain, "bob@example.com");

        Assert.Equal(Deferred120, retry.Heard("DATA"));
        Assert.Equal(["net:192.0.2.0/24", "net:198.51.100.0/24"], await TripletClientsAsync());
    }

    [Fact]
    public async Task A_wide_ip6_range_is_no_pool()
    {
        var chain = Chain(Options());

        await SendAsync(chain, "2001:db8:1::25", "alice@wide6.example", "bob@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        var retry = await SendAsync(chain, "2001:db8:2::25", "alice@wide6.example", "bob@example.com");

        Assert.Equal(Deferred120, retry.Heard("DATA"));
        Assert.Equal(["net:2001:db8:1::/64", "net:2001:db8:2::/64"], await TripletClientsAsync());
    }

    [Fact]
    public async Task A_narrow_ip6_range_pools()
    {
        var chain = Chain(Options());

        await SendAsync(chain, "2001:db8:5:1::25", "alice@narrow.example", "bob@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        var retry = await SendAsync(chain, "2001:db8:5:2::25", "alice@narrow.example", "bob@example.com");

        Assert.Equal("continue", retry.Heard("DATA"));
        Assert.Equal(["spf:narrow.example"], await TripletClientsAsync());
    }

    [Theory]
    [InlineData("narrow.example", "198.51.100.9")]    // the pool passed: strikes count under spf:narrow.example
    [InlineData("plusall.example", "192.0.2.5")]      // no pool: the subnet passed, strikes count under it
    public async Task Bypass_strikes_count_under_the_key_that_passed_and_ban_the_client(string domain, string striker)
    {
        var options = Options();
        var chain = Chain(options);
        await SendAsync(chain, "192.0.2.5", "alice@" + domain, "bob@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal("continue", (await SendAsync(chain, striker, "alice@" + domain, "bob@example.com")).Heard("DATA"));

        // Three messages to a banned recipient from the client that passed.
        for (var i = 0; i < 3; i++)
        {
            var result = await Transaction.From(striker).Helo("mx.sender.example").MailFrom("alice@" + domain).RcptTo("gone@example.com")
                .RunAsync(new RecordingSink(), sink => new ChainHandler(chain, Recorder(sink, options)));
            Assert.Equal("550 5.7.1 Access denied", result.Rcpt("gone@example.com"));
        }

        var ban = await WaitForBanAsync(IPAddress.Parse(striker));
        Assert.Equal(BanSource.Bypass, ban?.Source);
    }

    private BypassBanRecorder Recorder(IDecisionSink next, MilterOptions options) =>
        new(next, _stores.BypassBans, options, _clock, NullLogger<BypassBanRecorder>.Instance);

    // The recorder reports in the background: wait for the ban to land (a failure never does).
    private async Task<DynamicBan?> WaitForBanAsync(IPAddress client)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        DynamicBan? ban;
        while ((ban = await _stores.Bans.FindAsync(client, _clock.GetUtcNow(), default)) is null && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        return ban;
    }
}
