using System.Diagnostics;
using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Dns;
using Milter.TestSupport;

namespace Milter.Filters.Tests.Dns;

/// <summary>The resolver, SPF and reverse DNS against a real DNS server (dnsmasq) started for the test.</summary>
public sealed class DnsResolverTests : IAsyncLifetime
{
    private PrivateDns _dns = null!;

    public async Task InitializeAsync() => _dns = await PrivateDns.StartAsync(new PrivateDnsRecords { Ttl = 60 }
        .Txt("pool.example", "v=spf1 ip4:127.0.2.0/24 include:_spf.pool.example a:out.pool.example -all")
        .Txt("_spf.pool.example", "v=spf1 ip4:127.0.3.0/24 -all")
        .A("out.pool.example", "127.0.7.7")
        .Ptr("127.0.2.5", "mx5.sender.example")
        .A("mx5.sender.example", "127.0.2.5")
        .Host("target.sender.example", "127.0.8.8")
        .Cname("alias.sender.example", "target.sender.example"), "127.0.0.54");

    public async Task DisposeAsync() => await _dns.DisposeAsync();

    private DnsResolver Resolver(TimeProvider? time = null, TimeSpan? timeout = null, params IPEndPoint[] servers) =>
        new(servers.Length > 0 ? servers : [_dns.Endpoint], timeout ?? TimeSpan.FromSeconds(2), time ?? TimeProvider.System);

    private static async Task<IReadOnlyList<string>> AddressesAsync(DnsResolver resolver, string name) =>
        [.. (await resolver.ResolveAsync<ARecord>(DomainName.Parse(name), RecordType.A)).Select(a => a.Address.ToString())];

    [Fact]
    public async Task Answers_txt_ptr_and_a_records_and_follows_a_cname()
    {
        using var resolver = Resolver();

        var txt = await resolver.ResolveAsync<TxtRecord>(DomainName.Parse("_spf.pool.example"), RecordType.Txt);
        var ptr = await resolver.ResolveAsync<PtrRecord>(DomainName.Parse("5.2.0.127.in-addr.arpa"), RecordType.Ptr);

        Assert.Equal(["v=spf1 ip4:127.0.3.0/24 -all"], txt.Select(t => t.TextData));
        Assert.Equal(["mx5.sender.example"], ptr.Select(p => p.PointerDomainName.ToString(false)));
        Assert.Equal(["127.0.2.5"], await AddressesAsync(resolver, "MX5.Sender.Example"));
        Assert.Equal(["127.0.8.8"], await AddressesAsync(resolver, "alias.sender.example"));
    }

    [Fact]
    public async Task A_name_that_does_not_exist_is_an_empty_answer()
    {
        using var resolver = Resolver();

        Assert.Empty(await AddressesAsync(resolver, "nothing.sender.example"));
        Assert.Empty(await resolver.ResolveAsync<TxtRecord>(DomainName.Parse("mx5.sender.example"), RecordType.Txt));
    }

    [Fact]
    public async Task Answers_are_served_from_the_cache_until_their_ttl_runs_out()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var resolver = Resolver(clock);
        await AddressesAsync(resolver, "mx5.sender.example");

        await _dns.StopAsync();
        var cached = await AddressesAsync(resolver, "mx5.sender.example");
        clock.Advance(TimeSpan.FromSeconds(61));
        var expired = await Assert.ThrowsAsync<DnsLookupException>(() => AddressesAsync(resolver, "mx5.sender.example"));
        await _dns.StartAsync();

        Assert.Equal(["127.0.2.5"], cached);
        Assert.Equal($"mx5.sender.example A: {_dns.Endpoint}: no answer (within 2s)", expired.Message);
    }

    [Fact]
    public async Task A_stopped_server_fails_the_lookup_at_once()
    {
        using var resolver = Resolver();
        await _dns.StopAsync();

        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAsync<DnsLookupException>(() => AddressesAsync(resolver, "mx5.sender.example"));
        watch.Stop();
        await _dns.StartAsync();

        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task A_silent_server_fails_the_lookup_after_the_timeout()
    {
        using var resolver = Resolver(timeout: TimeSpan.FromMilliseconds(700));
        await _dns.SilenceAsync();

        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAsync<DnsLookupException>(() => AddressesAsync(resolver, "mx5.sender.example"));
        watch.Stop();
        await _dns.StartAsync();

        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(600), TimeSpan.FromMilliseconds(1500));
    }

    [Fact]
    public async Task The_next_server_answers_when_the_first_refuses()
    {
        await using var down = await PrivateDns.StartAsync(new PrivateDnsRecords(), "127.0.0.55");
        await down.StopAsync();
        using var resolver = Resolver(servers: [down.Endpoint, _dns.Endpoint]);

        Assert.Equal(["127.0.2.5"], await AddressesAsync(resolver, "mx5.sender.example"));
    }

    [Theory]
    [InlineData("127.0.2.5", SpfResult.Pass)]   // ip4
    [InlineData("127.0.3.9", SpfResult.Pass)]   // include
    [InlineData("127.0.7.7", SpfResult.Pass)]   // a:
    [InlineData("127.0.9.9", SpfResult.Fail)]
    public async Task Spf_is_evaluated_through_the_resolver(string client, SpfResult expected)
    {
        using var resolver = Resolver();

        var check = await new SpfVerifier(resolver).CheckAsync(IPAddress.Parse(client), "pool.example", "alice@pool.example", null, default);

        Assert.Equal(new SpfCheck("pool.example", expected), check);
    }

    [Fact]
    public async Task Reverse_dns_is_forward_confirmed_through_the_resolver()
    {
        using var resolver = Resolver();
        var lookup = new ReverseDnsLookup(resolver);

        var confirmed = await lookup.LookupAsync(IPAddress.Parse("127.0.2.5"), default);
        var none = await lookup.LookupAsync(IPAddress.Parse("127.0.2.6"), default);

        Assert.Equal(["mx5.sender.example"], confirmed.Names);
        Assert.Equal("mx5.sender.example", confirmed.ConfirmedName);
        Assert.Empty(none.Names);
        Assert.Null(none.ConfirmedName);
    }
}
