using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Dns;
using Milter.Filters.Tests.Support;

namespace Milter.Filters.Tests.Dns;

/// <summary>The small parts: reversed names, list codes, server entries, and the facts simulate prints.</summary>
public sealed class DnsPartsTests
{
    [Theory]
    [InlineData("127.0.2.5", "5.2.0.127", "5.2.0.127.in-addr.arpa")]
    [InlineData("::ffff:192.0.2.1", "1.2.0.192", "1.2.0.192.in-addr.arpa")]
    [InlineData("2001:db8::567:89ab", "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
        "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")]
    public void Addresses_are_reversed_by_octet_or_nibble(string address, string labels, string pointer)
    {
        var ip = IPAddress.Parse(address);

        Assert.Equal(labels, ReversedAddress.Labels(ip));
        Assert.Equal(pointer, ReversedAddress.PointerName(ip));
        Assert.Equal(labels + ".bl.example", ReversedAddress.InZone(ip, "bl.example."));
    }

    [Theory]
    [InlineData("127.0.0.2", true)]
    [InlineData("127.0.0.11", true)]
    [InlineData("127.0.0.12", false)]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.0.1.4", true)]
    [InlineData("::1", false)]
    public void Only_the_configured_codes_count(string code, bool counts)
    {
        var list = new DnsList(new DnsListOptions { Zone = "BL.Example.", Codes = ["127.0.0.2-127.0.0.11", "127.0.1.4"] });

        Assert.Equal(counts, list.Counts(IPAddress.Parse(code)));
        Assert.Equal("bl.example", list.Zone);
    }

    [Theory]
    [InlineData("127.0.0.2", true)]
    [InlineData("127.0.0.11", true)]
    [InlineData("127.255.255.251", true)]
    [InlineData("127.0.0.1", false)] // never a listing (RFC 5782 2.1)
    [InlineData("127.255.255.252", false)] // Spamhaus: a typing error in the query name
    [InlineData("127.255.255.254", false)] // Spamhaus: queried through a public resolver
    [InlineData("127.255.255.255", false)] // Spamhaus: over the free quota
    [InlineData("10.0.0.1", false)] // a resolver's NXDOMAIN rewriting, not a listing
    public void Without_codes_a_loopback_answer_counts_but_no_error_code(string code, bool counts)
    {
        Assert.Equal(counts, new DnsList(new DnsListOptions { Zone = "bl.example" }).Counts(IPAddress.Parse(code)));
    }

    [Theory]
    [InlineData("127.0.0.x")]
    [InlineData("127.0.0.9-127.0.0.2")]
    [InlineData("::1")]
    public void Malformed_codes_are_refused_with_the_entry_named(string code)
    {
        var error = Assert.Throws<FormatException>(() => new DnsList(new DnsListOptions { Zone = "bl.example", Codes = [code] }));

        Assert.Contains($"'{code}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rule_names_the_configuration_entry_and_the_zone()
    {
        Assert.Equal("dns_lists#2 (line 50) bl.example", new DnsList(new DnsListOptions { Zone = "bl.example", Id = "dns_lists#2 (line 50)" }).Rule);
        Assert.Equal("dns_lists bl.example", new DnsList(new DnsListOptions { Zone = "bl.example" }).Rule);
    }

    [Theory]
    [InlineData("127.0.0.53", "127.0.0.53:53")]
    [InlineData("127.0.0.53:5354", "127.0.0.53:5354")]
    [InlineData("[::1]:5354", "[::1]:5354")]
    [InlineData("::1", "[::1]:53")]
    public void Server_entries_take_an_optional_port(string entry, string endpoint)
    {
        Assert.Equal(endpoint, DnsServers.Parse(entry).ToString());
    }

    [Theory]
    [InlineData("dns.example")]
    [InlineData("127.0.0.1:99999")]
    public void Server_entries_that_are_no_address_are_refused(string entry)
    {
        Assert.Throws<FormatException>(() => DnsServers.Parse(entry));
    }

    [Fact]
    public void Without_servers_the_name_servers_of_resolv_conf_are_used()
    {
        using var folder = new TempDirectory();
        var conf = folder.Write("resolv.conf", "# generated\nsearch example.com\nnameserver 127.0.0.53\nnameserver\tfe80::1%lo\noptions edns0\n");
        var empty = folder.Write("empty.conf", "search example.com\n");

        Assert.Equal(["127.0.0.53:53", "[fe80::1%1]:53"], DnsServers.Resolve([], conf).Select(e => e.ToString()));
        Assert.Equal(["127.0.0.1:53"], DnsServers.Resolve([], empty).Select(e => e.ToString()));
        Assert.Equal(["127.0.0.1:53"], DnsServers.Resolve([], Path.Combine(folder.Path, "missing")).Select(e => e.ToString()));
        Assert.Equal(["192.0.2.53:5353"], DnsServers.Resolve(["192.0.2.53:5353"], conf).Select(e => e.ToString()));
    }

    [Fact]
    public async Task Facts_are_kept_on_the_session_for_simulate_to_print()
    {
        var dns = new FakeDns()
            .Txt("pool.example", "v=spf1 ip4:192.0.2.0/24 -all")
            .Ptr("192.0.2.5", "dyn-192-0-2-5.isp.example")
            .Listed("bl.example", "192.0.2.5", "127.0.0.4");
        var options = new MilterOptions
        {
            Greylist = new GreylistOptions { OnlySuspicious = true },
            DnsLists = [new DnsListOptions { Zone = "bl.example", Id = "dns_lists#1" }, new DnsListOptions { Zone = "wl.example", Action = DnsListAction.SkipGreylist }],
        };
        var checks = new DnsChecks(dns, options, new FakeTimeProvider(), NullLogger<DnsChecks>.Instance);
        var session = new SessionContext { ClientAddress = IPAddress.Parse("192.0.2.5"), Sender = "alice@pool.example", Helo = "mx.pool.example" };

        Assert.Null(DnsFacts.Of(session));
        checks.Start(session);
        var facts = await checks.GetAsync(session, default);

        Assert.Same(facts, DnsFacts.Of(session));
        Assert.Equal(
        [
            "spf: pass (pool.example)",
            "reverse dns: dyn-192-0-2-5.isp.example (not forward-confirmed)",
            "dns list: bl.example 127.0.0.4 (reject, dns_lists#1 bl.example)",
            "dns list: wl.example not listed",
        ], facts.Describe());
        Assert.Equal("pool.example", facts.SpfPoolDomain);
        session.ResetMessage();
        Assert.Null(DnsFacts.Of(session));
    }
}
