using System.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Dns;
using Milter.Filters.Greylist;
using Milter.Filters.Relay;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;

namespace Milter.Filters.Tests.Dns;

/// <summary>
/// The DNS lists and the greylist as the chain runs them, on a real SQLite store, with DNS played
/// by <see cref="FakeDns"/>: SPF pools, only_suspicious, DNS lists, and DNS that never answers.
/// </summary>
public sealed class DnsPolicyTests : IAsyncLifetime
{
    private const string Deferred120 = "451 4.7.1 Greylisted, please retry in 120 seconds";
    private const string PoolSpf = "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 -all";

    private readonly TempDirectory _folder = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
    private readonly FakeLogger<DnsChecks> _log = new();
    private readonly FakeDns _dns = new();
    private MilterStores _stores = null!;

    public async Task InitializeAsync() =>
        _stores = await StoreFactory.OpenAsync("sqlite:" + Path.Combine(_folder.Path, "milterhost.db"), _clock, null, new StoreOptions());

    public async Task DisposeAsync()
    {
        await _stores.DisposeAsync();
        _folder.Dispose();
    }

    private static MilterOptions Options(GreylistOptions? greylist = null, params DnsListOptions[] lists) => new()
    {
        LocalDomains = ["example.com"],
        Relay = new RelayOptions { AllowClients = [IPNetwork.Parse("127.0.0.1/32")] },
        Recipients = new RecipientsOptions { RejectUnknown = false },
        Greylist = greylist ?? new GreylistOptions(),
        Dns = new DnsOptions { Timeout = TimeSpan.FromSeconds(2) },
        DnsLists = lists,
    };

    private FilterChain Chain(MilterOptions options)
    {
        var checks = new DnsChecks(_dns, options, _clock, _log);
        var slot = new List<IMilterFilter>();
        if (checks.Lists.Count > 0)
            slot.Add(new DnsListFilter(checks));
        slot.Add(new GreylistFilter(_stores.Greylist.Check, options.Greylist, options.Relay.AllowClients, checks, _clock, new FakeLogger<GreylistFilter>()));
        var inputs = new FilterChainInputs { LocalDomains = new LocalDomains(["example.com"]), Greylist = slot };
        return new FilterChainFactory(_clock, NullLoggerFactoryOf()).Create(options, inputs);
    }

    private static ILoggerFactory NullLoggerFactoryOf() => Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;

    /// <summary>One message from <paramref name="client"/>, HELO mx.sender.example; shared with <see cref="SpfPoolTests"/>.</summary>
    internal static Task<TransactionResult> SendAsync(FilterChain chain, string client, string sender, params string[] recipients)
    {
        var transaction = Transaction.From(client).Helo("mx.sender.example").MailFrom(sender);
        foreach (var recipient in recipients)
            transaction.RcptTo(recipient);
        return transaction.RunAsync(chain);
    }

    private Task<IReadOnlyList<string>> TripletClientsAsync() => TripletClientsAsync(_stores.Greylist, _clock.GetUtcNow());

    /// <summary>The client keys of the recorded triplets, in the order the store lists them.</summary>
    internal static async Task<IReadOnlyList<string>> TripletClientsAsync(GreylistStore store, DateTimeOffset now) =>
        [.. (await store.Admin.ListTripletsAsync(new GreylistQuery(), now, default)).Select(t => t.Triplet.Client).Distinct()];

    [Fact]
    public async Task Pool_sender_retry_from_another_network_of_its_spf_record_passes()
    {
        _dns.Txt("pool.example", PoolSpf);
        var chain = Chain(Options());

        var first = await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        var retry = await SendAsync(chain, "198.51.100.9", "alice@pool.example", "bob@example.com");

        Assert.Equal(Deferred120, first.Heard("DATA"));
        Assert.Equal("continue", retry.Heard("DATA"));
        Assert.Equal(["spf:pool.example"], await TripletClientsAsync());
    }

    [Fact]
    public async Task Sender_outside_its_spf_record_is_greylisted_as_a_plain_triplet()
    {
        _dns.Txt("pool.example", PoolSpf);
        var chain = Chain(Options());

        var outside = await SendAsync(chain, "203.0.113.7", "alice@pool.example", "bob@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        var fromPool = await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");

        Assert.Equal(Deferred120, outside.Heard("DATA"));
        Assert.Equal(Deferred120, fromPool.Heard("DATA"));
        Assert.Equal(["net:203.0.113.0/24", "spf:pool.example"], (await TripletClientsAsync()).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("nospf.example")]
    [InlineData("softfail.example")]
    public async Task Without_an_spf_pass_a_retry_from_another_network_is_a_new_triplet(string domain)
    {
        _dns.Txt("softfail.example", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ~all ").Txt("nospf.example", "google-site-verification=x");
        _dns.Txt("softfail.example", "unrelated");
        var chain = Chain(Options());

        await SendAsync(chain, "203.0.113.7", "alice@" + domain, "bob@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        var retry = await SendAsync(chain, "203.0.114.7", "alice@" + domain, "bob@example.com");

        Assert.Equal(Deferred120, retry.Heard("DATA"));
        Assert.Equal(["net:203.0.113.0/24", "net:203.0.114.0/24"], (await TripletClientsAsync()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Spf_pools_off_asks_no_spf_and_keys_by_subnet()
    {
        _dns.Txt("pool.example", PoolSpf);
        var chain = Chain(Options(new GreylistOptions { SpfPools = false }));

        await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");

        Assert.Equal(["net:192.0.2.0/24"], await TripletClientsAsync());
        Assert.Empty(_dns.Asked);
    }

    [Fact]
    public async Task Null_sender_is_never_an_spf_pool()
    {
        var chain = Chain(Options());

        var bounce = await SendAsync(chain, "192.0.2.5", "", "bob@example.com");

        Assert.Equal(Deferred120, bounce.Heard("DATA"));
        Assert.Equal(["net:192.0.2.0/24"], await TripletClientsAsync());
        Assert.Empty(_dns.Asked);
    }

    [Fact]
    public async Task Auto_whitelist_of_a_pool_is_kept_per_domain()
    {
        _dns.Txt("pool.example", PoolSpf);
        var chain = Chain(Options(new GreylistOptions { AutoWhitelist = new AutoWhitelistOptions { After = 1 } }));
        await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        await SendAsync(chain, "192.0.2.6", "alice@pool.example", "bob@example.com");

        var otherRecipientOtherServer = await SendAsync(chain, "198.51.100.200", "carol@pool.example", "dave@example.com");

        Assert.Equal("continue", otherRecipientOtherServer.Heard("DATA"));
        var awl = await _stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), _clock.GetUtcNow(), default);
        Assert.Equal(("spf:pool.example", "pool.example"), (awl.Single().Client, awl.Single().SenderDomain));
    }

    [Fact]
    public async Task Only_suspicious_passes_a_forward_confirmed_static_name_at_once()
    {
        _dns.Ptr("192.0.2.5", "mx5.sender.example").A("mx5.sender.example", "192.0.2.5");
        var chain = Chain(Options(new GreylistOptions { OnlySuspicious = true, SpfPools = false }));

        var result = await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");

        Assert.Equal("continue", result.Heard("DATA"));
        Assert.Empty(await TripletClientsAsync());
    }

    [Fact]
    public async Task A_forward_confirmed_name_in_skip_client_names_passes_at_once_and_others_wait()
    {
        _dns.Ptr("192.0.2.5", "mail-yw1-f170.google.com").A("mail-yw1-f170.google.com", "192.0.2.5")
            .Ptr("192.0.2.6", "mail.google.com.evil.example").A("mail.google.com.evil.example", "192.0.2.6")
            .Ptr("192.0.2.7", "mx.sender.example").A("mx.sender.example", "192.0.2.7");
        var chain = Chain(Options(new GreylistOptions { SpfPools = false, Skip = new GreylistSkipOptions { ClientNames = ["*.google.com", "mx?.partner.example"] } }));

        var google = await SendAsync(chain, "192.0.2.5", "alice@gmail.example", "bob@example.com");
        var lookalike = await SendAsync(chain, "192.0.2.6", "alice@gmail.example", "carol@example.com");
        var other = await SendAsync(chain, "192.0.2.7", "alice@sender.example", "dave@example.com");

        Assert.Equal("continue", google.Heard("DATA"));
        Assert.Equal(Deferred120, lookalike.Heard("DATA"));
        Assert.Equal(Deferred120, other.Heard("DATA"));
        var triplets = await _stores.Greylist.Admin.ListTripletsAsync(new GreylistQuery(), _clock.GetUtcNow(), default);
        Assert.Equal(["carol@example.com", "dave@example.com"], triplets.Select(t => t.Triplet.Recipient).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_ptr_name_in_skip_client_names_that_does_not_point_back_is_greylisted()
    {
        // Whoever owns 192.0.2.5 can write any PTR record: only a name whose A record agrees counts.
        _dns.Ptr("192.0.2.5", "mail-yw1-f170.google.com").A("mail-yw1-f170.google.com", "192.0.2.99");
        var chain = Chain(Options(new GreylistOptions { SpfPools = false, Skip = new GreylistSkipOptions { ClientNames = ["*.google.com"] } }));

        var result = await SendAsync(chain, "192.0.2.5", "alice@gmail.example", "bob@example.com");

        Assert.Equal(Deferred120, result.Heard("DATA"));
    }

    [Theory]
    [InlineData("dyn-192-0-2-5.isp.example", "192.0.2.5")]      // looks dynamic
    [InlineData("ppp5.isp.example", "192.0.2.5")]
    [InlineData("mx5.sender.example", "192.0.2.99")]            // the name does not point back
    public async Task Only_suspicious_greylists_dynamic_or_unconfirmed_names(string name, string forward)
    {
        _dns.Ptr("192.0.2.5", name).A(name, forward);
        var chain = Chain(Options(new GreylistOptions { OnlySuspicious = true }));

        var result = await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");

        Assert.Equal(Deferred120, result.Heard("DATA"));
    }

    [Fact]
    public async Task Only_suspicious_greylists_a_client_without_reverse_dns_or_whose_lookup_failed()
    {
        _dns.Fail(ReversedAddress.PointerName(IPAddress.Parse("192.0.2.6")), RecordType.Ptr);
        var chain = Chain(Options(new GreylistOptions { OnlySuspicious = true }));

        var noPtr = await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");
        var failed = await SendAsync(chain, "192.0.2.6", "alice@pool.example", "carol@example.com");

        Assert.Equal(Deferred120, noPtr.Heard("DATA"));
        Assert.Equal(Deferred120, failed.Heard("DATA"));
    }

    [Fact]
    public async Task Block_list_refuses_every_recipient_naming_the_list_and_code()
    {
        _dns.Listed("bl.example", "192.0.2.5", "127.0.0.3");
        var chain = Chain(Options(null, new DnsListOptions { Zone = "bl.example", Id = "dns_lists#1 (line 40)" }));

        var result = await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com", "carol@example.com");

        Assert.Equal("554 5.7.1 Listed at bl.example (127.0.0.3)", result.Rcpt("bob@example.com"));
        Assert.Equal("554 5.7.1 Listed at bl.example (127.0.0.3)", result.Rcpt("carol@example.com"));
        Assert.All(result.Decisions, d => Assert.Equal(("dns_lists", "dns_lists#1 (line 40) bl.example"), (d.Filter, d.Rule)));
        Assert.Empty(await TripletClientsAsync());
    }

    [Fact]
    public async Task Tempfail_list_defers_and_codes_outside_the_ranges_do_not_count()
    {
        _dns.Listed("bl.example", "192.0.2.5", "127.0.0.10").Listed("bl.example", "192.0.2.6", "127.0.0.12");
        var list = new DnsListOptions { Zone = "bl.example", Codes = ["127.0.0.2-127.0.0.11"], Action = DnsListAction.Tempfail, Id = "dns_lists#1" };
        var chain = Chain(Options(null, list));

        var inRange = await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");
        var outOfRange = await SendAsync(chain, "192.0.2.6", "alice@pool.example", "bob@example.com");

        Assert.Equal("451 4.7.1 Listed at bl.example (127.0.0.10)", inRange.Rcpt("bob@example.com"));
        Assert.Equal("continue", outOfRange.Rcpt("bob@example.com"));
        Assert.Equal(Deferred120, outOfRange.Heard("DATA"));
    }

    [Fact]
    public async Task Allow_list_skips_greylisting_and_wins_over_a_later_block_list()
    {
        _dns.Listed("list.dnswl.example", "192.0.2.5", "127.0.10.0").Listed("bl.example", "192.0.2.5");
        var chain = Chain(Options(null,
            new DnsListOptions { Zone = "list.dnswl.example", Action = DnsListAction.SkipGreylist, Id = "dns_lists#1" },
            new DnsListOptions { Zone = "bl.example", Id = "dns_lists#2" }));

        var result = await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");

        Assert.Equal("continue", result.Rcpt("bob@example.com"));
        Assert.Equal("continue", result.Heard("DATA"));
        Assert.Empty(result.Decisions);
        Assert.Empty(await TripletClientsAsync());
    }

    [Fact]
    public async Task A_list_that_refuses_the_query_is_a_dns_failure_not_a_quiet_not_listed()
    {
        // Spamhaus through a public resolver, or over its quota: every client answers 127.255.255.254.
        _dns.Listed("bl.example", "192.0.2.5", "127.255.255.254");
        var chain = Chain(Options(null, new DnsListOptions { Zone = "bl.example", Id = "dns_lists#1" }));

        var result = await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");

        Assert.Equal("continue", result.Rcpt("bob@example.com"));
        var warning = Assert.Single(_log.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning);
        Assert.Contains("dns list bl.example: bl.example refused the query (127.255.255.254)", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Relay_clients_and_authenticated_sessions_are_not_looked_up()
    {
        var chain = Chain(Options(null, new DnsListOptions { Zone = "bl.example" }));

        await SendAsync(chain, "127.0.0.1", "alice@pool.example", "bob@example.com");
        await Transaction.From("192.0.2.5").Auth("alice").MailFrom("alice@pool.example").RcptTo("bob@example.com").RunAsync(chain);

        Assert.Empty(_dns.Asked);
    }

    [Fact]
    public async Task Ipv6_client_is_looked_up_by_nibbles()
    {
        var chain = Chain(Options(new GreylistOptions { SpfPools = false }, new DnsListOptions { Zone = "bl.example" }));

        await SendAsync(chain, "2001:db8::25", "alice@pool.example", "bob@example.com");

        Assert.Equal(["5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example A"], _dns.Asked);
    }

    [Fact]
    public async Task Dns_that_never_answers_costs_one_timeout_per_message_and_means_plain_greylisting()
    {
        _dns.HangAll = true;
        var chain = Chain(Options(new GreylistOptions { OnlySuspicious = true },
            new DnsListOptions { Zone = "bl.example", Id = "dns_lists#1" }, new DnsListOptions { Zone = "bl2.example", Id = "dns_lists#2" }));

        var pending = SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com", "carol@example.com");
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        _clock.Advance(TimeSpan.FromSeconds(2));
        var result = await pending.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("continue", result.Rcpt("bob@example.com"));
        Assert.Equal(Deferred120, result.Heard("DATA"));
        Assert.Equal(["net:192.0.2.0/24"], await TripletClientsAsync());
        var warning = Assert.Single(_log.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning);
        Assert.Equal(
            "DNS lookups failed for 192.0.2.5: spf pool.example: no answer within 2s; reverse dns: no answer within 2s; "
            + "dns list bl.example: no answer within 2s; dns list bl2.example: no answer within 2s; "
            + "going on as if unanswered (plain greylisting, not listed)",
            warning.Message);
    }

    [Fact]
    public async Task Dns_failures_are_logged_once_per_burst()
    {
        _dns.Fail("pool.example", RecordType.Txt);
        var chain = Chain(Options(null, new DnsListOptions { Zone = "bl.example" }));
        _dns.Fail(ReversedAddress.InZone(IPAddress.Parse("192.0.2.5"), "bl.example"), RecordType.A);

        await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");
        _clock.Advance(TimeSpan.FromSeconds(30));
        await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");
        await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");
        _clock.Advance(TimeSpan.FromSeconds(31));
        await SendAsync(chain, "192.0.2.5", "alice@pool.example", "bob@example.com");
        await SendAsync(chain, "192.0.2.9", "carol@other.example", "bob@example.com");

        var warnings = _log.Collector.GetSnapshot().Where(r => r.Level == LogLevel.Warning).Select(r => r.Message).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.StartsWith("DNS lookups failed for 192.0.2.5: spf pool.example: temperror (a lookup failed); dns list bl.example: 5.2.0.192.bl.example A: ServerFailure", warnings[0]);
        Assert.EndsWith("; 2 more messages met DNS failures since the last report", warnings[1]);
        Assert.Equal("DNS answers again, after 4 messages met DNS failures over 00:01:01",
            Assert.Single(_log.Collector.GetSnapshot(), r => r.Level == LogLevel.Information).Message);
    }
}
