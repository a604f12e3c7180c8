using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Dns;

namespace Milter.Filters.Tests.Dns;

/// <summary>The resolver against a server whose answers are broken or hostile, written byte by byte (<see cref="ScriptedDns"/>).</summary>
public sealed class HostileDnsTests
{
    private static DnsResolver Resolver(ScriptedDns dns, TimeProvider? time = null, TimeSpan? timeout = null) =>
        new([dns.Endpoint], timeout ?? TimeSpan.FromSeconds(2), time ?? TimeProvider.System);

    private static async Task<IReadOnlyList<string>> AddressesAsync(DnsResolver resolver, string name) =>
        [.. (await resolver.ResolveAsync<ARecord>(DomainName.Parse(name), RecordType.A)).Select(a => a.Address.ToString())];

    [Fact]
    public async Task A_truncated_answer_is_asked_again_over_tcp()
    {
        await using var dns = ScriptedDns.Start((q, tcp) => tcp
            ? new DnsReply().A(q.Name, "127.0.9.1").A(q.Name, "127.0.9.2")
            : new DnsReply { Truncated = true }.A(q.Name, "127.0.9.1"));
        using var resolver = Resolver(dns);

        Assert.Equal(["127.0.9.1", "127.0.9.2"], await AddressesAsync(resolver, "big.attacker.example"));
        Assert.Equal(1, dns.TcpQueries);
    }

    [Fact]
    public async Task A_truncated_answer_without_a_tcp_answer_is_no_answer()
    {
        // The part of a TXT set that fits in UDP is not the set: the SPF record may be the part cut off.
        await using var dns = ScriptedDns.Start((q, tcp) => tcp ? null : new DnsReply { Truncated = true }.Txt(q.Name, "google-site-verification=x"));
        using var resolver = Resolver(dns, timeout: TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAsync<DnsLookupException>(() => resolver.ResolveAsync<TxtRecord>(DomainName.Parse("cut.example"), RecordType.Txt));
        Assert.Equal(0, resolver.CachedAnswers);
    }

    [Fact]
    public async Task A_first_server_that_never_answers_leaves_time_for_the_next()
    {
        // resolv.conf's first name server behind a firewall that drops: the second one answers.
        await using var silent = ScriptedDns.Start((_, _) => null, "127.0.0.62");
        await using var dns = ScriptedDns.Start((q, _) => new DnsReply().A(q.Name, "127.0.9.1"));
        using var resolver = new DnsResolver([silent.Endpoint, dns.Endpoint], TimeSpan.FromSeconds(1), TimeProvider.System);

        Assert.Equal(["127.0.9.1"], await AddressesAsync(resolver, "backup.example"));
        Assert.Equal(1, silent.UdpQueries);
    }

    [Fact]
    public async Task An_answer_with_another_id_is_not_taken()
    {
        await using var dns = ScriptedDns.Start((q, _) => new DnsReply { IdOffset = 1 }.A(q.Name, "127.0.9.1"));
        using var resolver = Resolver(dns, timeout: TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAsync<DnsLookupException>(() => AddressesAsync(resolver, "spoofed.example"));
    }

    [Fact]
    public async Task An_answer_to_another_question_is_not_taken()
    {
        await using var dns = ScriptedDns.Start((q, _) => new DnsReply { QuestionName = "other.example" }.A(q.Name, "127.0.9.1"));
        using var resolver = Resolver(dns, timeout: TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAsync<DnsLookupException>(() => AddressesAsync(resolver, "spoofed.example"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    public async Task Servfail_and_refused_fail_the_lookup(int rcode)
    {
        await using var dns = ScriptedDns.Start((q, _) => new DnsReply { ReturnCode = rcode });
        using var resolver = Resolver(dns);

        await Assert.ThrowsAsync<DnsLookupException>(() => AddressesAsync(resolver, "broken.example"));
    }

    [Fact]
    public async Task A_cname_loop_ends_in_an_empty_answer()
    {
        await using var dns = ScriptedDns.Start((q, _) => new DnsReply().Cname("a.loop.example", "b.loop.example").Cname("b.loop.example", "a.loop.example"));
        using var resolver = Resolver(dns);

        Assert.Empty(await AddressesAsync(resolver, "a.loop.example"));
    }

    [Fact]
    public async Task Ttls_are_capped()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var answers = 0;
        await using var dns = ScriptedDns.Start((q, _) =>
        {
            Interlocked.Increment(ref answers);
            return q.Name.StartsWith("nx", StringComparison.Ordinal)
                ? new DnsReply { ReturnCode = 3 }.Soa("example", int.MaxValue, int.MaxValue)
                : new DnsReply().A(q.Name, "127.0.9.1", int.MaxValue);
        });
        using var resolver = Resolver(dns, clock);
        await AddressesAsync(resolver, "long.example");
        await AddressesAsync(resolver, "nx.example");
        clock.Advance(TimeSpan.FromMinutes(61));
        await AddressesAsync(resolver, "long.example");
        await AddressesAsync(resolver, "nx.example");
        Assert.Equal(3, answers);
        clock.Advance(TimeSpan.FromDays(1));
        await AddressesAsync(resolver, "long.example");
        Assert.Equal(4, answers);
    }

    [Fact]
    public async Task An_answer_too_big_to_keep_is_used_but_not_cached()
    {
        // A sender's zone answers every name below it (a wildcard) with ~50 KB of TXT, over TCP:
        // one MAIL FROM per subdomain would fill the cache's 20,000 entries with gigabytes.
        await using var dns = ScriptedDns.Start((q, tcp) =>
        {
            if (q.Name == "small.example")
                return new DnsReply().Txt(q.Name, "v=spf1 ip4:127.0.9.0/24 -all");
            if (!tcp)
                return new DnsReply { Truncated = true };
            var reply = new DnsReply();
            for (var i = 0; i < 200; i++)
                reply.Txt(q.Name, new string('x', 250));
            return reply;
        });
        using var resolver = Resolver(dns);

        var big = await resolver.ResolveAsync<TxtRecord>(DomainName.Parse("r1.attacker.example"), RecordType.Txt);
        await resolver.ResolveAsync<TxtRecord>(DomainName.Parse("r2.attacker.example"), RecordType.Txt);
        await resolver.ResolveAsync<TxtRecord>(DomainName.Parse("small.example"), RecordType.Txt);

        Assert.Equal(200, big.Count);
        Assert.Equal(1, resolver.CachedAnswers);
    }

    [Fact]
    public async Task Reverse_dns_asks_at_most_ten_names_and_confirms_only_the_name_the_ptr_gave()
    {
        // The client's reverse zone names 40 hosts; the one that confirms is an alias of a name in another zone.
        var asked = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var dns = ScriptedDns.Start((q, _) =>
        {
            asked.Enqueue(q.Name);
            if (q.Type == DnsQuery.Ptr)
            {
                var reply = new DnsReply().Ptr(q.Name, "x.attacker.example");
                for (var i = 0; i < 40; i++)
                    reply.Ptr(q.Name, $"n{i}.attacker.example");
                return reply;
            }
            return q.Name == "x.attacker.example"
                ? new DnsReply().Cname(q.Name, "mail.big.example").A("mail.big.example", "127.0.9.5")
                : new DnsReply();
        });
        using var resolver = Resolver(dns);

        var reverse = await new ReverseDnsLookup(resolver).LookupAsync(IPAddress.Parse("::ffff:127.0.9.5"), default);

        Assert.Equal("x.attacker.example", reverse.ConfirmedName);
        Assert.Equal(10, reverse.Names.Count);
        Assert.Equal(11, asked.Count);
        Assert.Contains("5.9.0.127.in-addr.arpa", asked);
    }

    [Fact]
    public async Task Reverse_dns_of_an_ipv6_client_asks_the_nibble_name_and_confirms_with_aaaa()
    {
        await using var dns = ScriptedDns.Start((q, _) => q.Type switch
        {
            DnsQuery.Ptr when q.Name == "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa" =>
                new DnsReply().Ptr(q.Name, "mx.v6.example"),
            DnsQuery.Aaaa when q.Name == "mx.v6.example" => new DnsReply().Aaaa(q.Name, "2001:db8::5"),
            DnsQuery.A => new DnsReply().A(q.Name, "127.0.9.5"),
            _ => new DnsReply { ReturnCode = 3 },
        });
        using var resolver = Resolver(dns);

        var reverse = await new ReverseDnsLookup(resolver).LookupAsync(IPAddress.Parse("2001:db8::5"), default);

        Assert.Equal("mx.v6.example", reverse.ConfirmedName);
    }
}
