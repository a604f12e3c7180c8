using System.Net;
using ARSoft.Tools.Net.Dns;
using Milter.Filters.Dns;

namespace Milter.Filters.Tests.Dns;

/// <summary>RFC 7208 evaluation (SpfEvaluation) on a resolver double: the cases no test DNS server plays easily.</summary>
public sealed class SpfVerifierTests
{
    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.5");

    private static Task<SpfCheck> CheckAsync(FakeDns dns, string domain = "pool.example", IPAddress? client = null, CancellationToken token = default) =>
        new SpfVerifier(dns).CheckAsync(client ?? Client, domain, "alice@" + domain, "mx.pool.example", token);

    [Theory]
    [InlineData("v=spf1 ip4:192.0.2.0/24 -all", SpfResult.Pass)]
    [InlineData("v=spf1 ip4:198.51.100.0/24 -all", SpfResult.Fail)]
    [InlineData("v=spf1 ip4:198.51.100.0/24 ~all", SpfResult.SoftFail)]
    [InlineData("v=spf1 ip4:198.51.100.0/24 ?all", SpfResult.Neutral)]
    [InlineData("v=spf1 ip4:198.51.100.0/24", SpfResult.Neutral)]
    [InlineData("v=spf1 ip4:192.0.2.5 -all", SpfResult.Pass)]
    public async Task Ip4_ranges_decide(string record, SpfResult expected)
    {
        var check = await CheckAsync(new FakeDns().Txt("pool.example", record));

        Assert.Equal(new SpfCheck("pool.example", expected), check);
    }

    [Fact]
    public async Task Ip6_range_passes_an_ipv6_client()
    {
        var dns = new FakeDns().Txt("pool.example", "v=spf1 ip6:2001:db8:5::/48 -all");

        Assert.Equal(SpfResult.Pass, (await CheckAsync(dns, client: IPAddress.Parse("2001:db8:5::25"))).Result);
        Assert.Equal(SpfResult.Fail, (await CheckAsync(dns, client: IPAddress.Parse("2001:db8:6::25"))).Result);
    }

    [Fact]
    public async Task A_and_mx_mechanisms_look_up_the_hosts()
    {
        var dns = new FakeDns()
            .Txt("pool.example", "v=spf1 a:out.pool.example mx -all")
            .A("out.pool.example", "198.51.100.7")
            .Mx("pool.example", "mx1.pool.example")
            .A("mx1.pool.example", "192.0.2.5");

        Assert.Equal(SpfResult.Pass, (await CheckAsync(dns)).Result);
        Assert.Equal(SpfResult.Pass, (await CheckAsync(dns, client: IPAddress.Parse("198.51.100.7"))).Result);
        Assert.Equal(SpfResult.Fail, (await CheckAsync(dns, client: IPAddress.Parse("198.51.100.8"))).Result);
    }

    [Fact]
    public async Task Include_and_redirect_are_followed()
    {
        var dns = new FakeDns()
            .Txt("pool.example", "v=spf1 include:_spf.provider.example -all")
            .Txt("_spf.provider.example", "v=spf1 ip4:192.0.2.0/26 -all")
            .Txt("other.example", "v=spf1 redirect=pool.example");

        Assert.Equal(SpfResult.Pass, (await CheckAsync(dns)).Result);
        Assert.Equal(SpfResult.Pass, (await CheckAsync(dns, "other.example")).Result);
        Assert.Equal(SpfResult.Fail, (await CheckAsync(dns, "other.example", IPAddress.Parse("192.0.2.200"))).Result);
    }

    [Theory]
    [InlineData("v=spf1 ip4:192.0.2.0/24 -all", null)]
    [InlineData("v=spf1 ip4:192.0.0.0/16 -all", null)]                        // a /16 is still a pool
    [InlineData("v=spf1 ip4:192.0.2.5 ~ptr ?exists:x.example -all", null)]     // qualifiers that cannot pass
    [InlineData("v=spf1 ip4:192.0.2.5 -all +all", null)]                      // never reached after -all
    [InlineData("v=spf1 ip4:192.0.2.5 +all", "+all")]
    [InlineData("v=spf1 ip4:192.0.0.0/15 -all", "+ip4:192.0.0.0/15 (wider than /16)")]
    [InlineData("v=spf1 ip4:192.0.2.5 ip6:2001:db8::/31 -all", "+ip6:2001:db8::/31 (wider than /32)")]
    [InlineData("v=spf1 ip4:192.0.2.5 a:%{i}.x.example -all", "+a:%{i}.x.example")]
    [InlineData("v=spf1 ip4:192.0.2.5 mx:out.example/8 -all", "+mx:out.example/8 (wider than /16)")]
    [InlineData("v=spf1 ip4:192.0.2.5 include:%{l}.x.example -all", "include:%{l}.x.example")]
    [InlineData("v=spf1 ip4:192.0.2.5 include:inc.example -all", "include:inc.example: +ptr")]
    public async Task A_pass_names_the_first_term_that_could_pass_a_wide_part_of_the_internet(string record, string? unbounded)
    {
        var dns = new FakeDns().Txt("pool.example", record).Txt("inc.example", "v=spf1 ptr -all");

        var check = await CheckAsync(dns);

        Assert.Equal(SpfResult.Pass, check.Result);
        Assert.Equal(unbounded, check.Unbounded);
        Assert.Equal(unbounded is null, check.IsPool);
    }

    [Fact]
    public async Task Narrow_terms_that_together_span_a_wide_part_of_the_internet_are_no_pool()
    {
        // Each /16 alone is a pool; forty of them are 2.6 million addresses, a botnet's worth under one greylist key.
        var terms = string.Join(' ', Enumerable.Range(1, 40).Select(i => $"ip4:{i}.0.0.0/16"));
        var dns = new FakeDns().Txt("pool.example", $"v=spf1 ip4:192.0.2.0/24 {terms} -all");

        var check = await CheckAsync(dns);

        Assert.Equal(SpfResult.Pass, check.Result);
        Assert.Equal("+ip4:16.0.0.0/16 (the pool would span more than 1048576 IPv4 addresses)", check.Unbounded);
        Assert.False(check.IsPool);
    }

    [Fact]
    public async Task A_host_of_many_addresses_under_a_narrow_length_is_no_pool()
    {
        // One a: term, a /16 per address, and the sender's zone decides how many addresses there are.
        var dns = new FakeDns().Txt("pool.example", "v=spf1 a:bots.pool.example/16 -all")
            .A("bots.pool.example", [.. Enumerable.Range(1, 100).Select(i => $"{i}.0.0.1"), "192.0.2.5"]);

        var check = await CheckAsync(dns);

        Assert.Equal(SpfResult.Pass, check.Result);
        Assert.Equal("+a:bots.pool.example/16 (the pool would span more than 1048576 IPv4 addresses)", check.Unbounded);
    }

    [Fact]
    public async Task Mx_hosts_count_toward_the_pool_with_their_addresses()
    {
        var dns = new FakeDns().Txt("pool.example", "v=spf1 mx/24 -all")
            .Mx("pool.example", "mx1.pool.example", "mx2.pool.example")
            .A("mx1.pool.example", "192.0.2.5", "2001:db8::5")
            .A("mx2.pool.example", "198.51.100.5");

        var check = await CheckAsync(dns);

        Assert.Equal(SpfResult.Pass, check.Result);
        Assert.True(check.IsPool);
    }

    [Fact]
    public async Task A_domain_without_spf_gets_none()
    {
        var dns = new FakeDns().Txt("pool.example", "some verification token");

        Assert.Equal(SpfResult.None, (await CheckAsync(dns)).Result);
        Assert.Equal(SpfResult.None, (await CheckAsync(dns, "nowhere.example")).Result);
    }

    [Fact]
    public async Task Include_loop_ends_in_permerror_within_the_lookup_limit()
    {
        var dns = new FakeDns()
            .Txt("pool.example", "v=spf1 include:loop.example -all")
            .Txt("loop.example", "v=spf1 include:pool.example -all");

        var check = await CheckAsync(dns);

        Assert.Equal(SpfResult.PermError, check.Result);
        Assert.InRange(dns.Asked.Count, 2, 12);
    }

    [Fact]
    public async Task Ten_lookups_are_allowed_and_the_eleventh_is_a_permerror()
    {
        var ten = new FakeDns().Txt("pool.example", Includes(10) + " ip4:192.0.2.5 -all");
        var eleven = new FakeDns().Txt("pool.example", Includes(11) + " ip4:192.0.2.5 -all");
        for (var i = 1; i <= 11; i++)
        {
            ten.Txt($"i{i}.example", "v=spf1 ?all");
            eleven.Txt($"i{i}.example", "v=spf1 ?all");
        }

        Assert.Equal(SpfResult.Pass, (await CheckAsync(ten)).Result);
        Assert.Equal(SpfResult.PermError, (await CheckAsync(eleven)).Result);
    }

    [Theory]
    [InlineData("v=spf1 ip4:999.1.1.1 -all")]
    [InlineData("v=spf1 ip4:192.0.2.0/40 -all")]
    [InlineData("v=spf1 frobnicate:pool.example -all")]
    [InlineData("v=spf1 include: -all")]
    [InlineData("v=spf1 redirect=a.example redirect=b.example")]
    public async Task Malformed_records_are_permerrors(string record)
    {
        Assert.Equal(SpfResult.PermError, (await CheckAsync(new FakeDns().Txt("pool.example", record))).Result);
    }

    [Fact]
    public async Task The_i_macro_of_an_ipv6_client_is_its_nibbles()
    {
        // exists:%{i}._spf... is how some providers list their servers; written as decimal bytes
        // (ARSoft's validator), an authorised IPv6 server got fail, and reject_fail refused its mail.
        var client = IPAddress.Parse("2001:db8::25");
        var dns = new FakeDns().Txt("pool.example", "v=spf1 exists:%{i}._spf.pool.example -all")
            .A("2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.5._spf.pool.example", "127.0.0.2");

        Assert.Equal(SpfResult.Pass, (await CheckAsync(dns, client: client)).Result);
        Assert.Equal(SpfResult.Fail, (await CheckAsync(dns, client: IPAddress.Parse("2001:db8::26"))).Result);
    }

    [Theory]
    [InlineData("%{d}", "pool.example")]
    [InlineData("%{dr}", "example.pool")]
    [InlineData("%{d1}", "example")]
    [InlineData("%{ir}.%{v}", "5.2.0.192.in-addr")]
    [InlineData("%{l}-%{o}", "alice-pool.example")]
    [InlineData("%{s}", "alice@pool.example")]
    [InlineData("%{h}", "mx.pool.example")]
    [InlineData("%{l-}", "alice")]
    [InlineData("a%%b%_c%-d", "a%b c%20d")]
    public void Macros_expand_as_section_7_says(string spec, string expected)
    {
        var evaluation = new SpfEvaluation(new FakeDns(), Client, "alice@pool.example", "mx.pool.example", default);
        Assert.Equal(expected, evaluation.Expand(spec, ARSoft.Tools.Net.DomainName.Parse("pool.example")));
    }

    [Fact]
    public async Task A_local_part_with_an_at_sign_is_cut_at_the_last_one()
    {
        var dns = new FakeDns().Txt("pool.example", "v=spf1 exists:%{l}.users.pool.example -all").A("a@b.users.pool.example", "127.0.0.2");
        var check = await new SpfVerifier(dns).CheckAsync(Client, "pool.example", "a@b@pool.example", "mx.pool.example", default);
        // "a@b" is no DNS label: the target is malformed, a permerror, never a fail.
        Assert.Equal(SpfResult.PermError, check.Result);
    }

    [Fact]
    public async Task More_than_two_void_lookups_are_a_permerror_not_a_fail()
    {
        var dns = new FakeDns().Txt("pool.example", "v=spf1 a:gone1.pool.example a:gone2.pool.example mx:gone3.pool.example -all");
        Assert.Equal(SpfResult.PermError, (await CheckAsync(dns)).Result);

        var two = new FakeDns().Txt("pool.example", "v=spf1 a:gone1.pool.example a:gone2.pool.example -all");
        Assert.Equal(SpfResult.Fail, (await CheckAsync(two)).Result);
    }

    [Theory]
    [InlineData(10, true, SpfResult.Pass)]
    [InlineData(10, false, SpfResult.Fail)]
    [InlineData(11, true, SpfResult.PermError)]
    public async Task Ten_mx_hosts_are_looked_up_and_more_are_a_permerror(int hosts, bool clientIsLast, SpfResult expected)
    {
        var dns = new FakeDns().Txt("pool.example", "v=spf1 mx -all")
            .Mx("pool.example", [.. Enumerable.Range(1, hosts).Select(i => $"mx{i}.pool.example")]);
        for (var i = 1; i <= hosts; i++)
            dns.A($"mx{i}.pool.example", i == hosts && clientIsLast ? Client.ToString() : $"198.51.100.{i}");

        Assert.Equal(expected, (await CheckAsync(dns)).Result);
    }

    [Theory]
    [InlineData("V=SPF1 ip4:192.0.2.0/24 -all", SpfResult.Pass)]
    [InlineData("v=spf1", SpfResult.Neutral)]
    public async Task The_version_is_read_in_any_case_and_may_stand_alone(string record, SpfResult expected)
    {
        Assert.Equal(expected, (await CheckAsync(new FakeDns().Txt("pool.example", record))).Result);
    }

    [Fact]
    public async Task Two_spf_records_are_a_permerror()
    {
        var dns = new FakeDns().Txt("pool.example", "v=spf1 ip4:192.0.2.0/24 -all", "v=spf1 -all");

        Assert.Equal(SpfResult.PermError, (await CheckAsync(dns)).Result);
    }

    [Fact]
    public async Task Include_of_a_domain_without_spf_is_a_permerror()
    {
        var dns = new FakeDns().Txt("pool.example", "v=spf1 include:gone.example ip4:192.0.2.5 -all");

        Assert.Equal(SpfResult.PermError, (await CheckAsync(dns)).Result);
    }

    [Fact]
    public async Task Dns_failures_are_temperrors()
    {
        var txt = new FakeDns().Fail("pool.example", RecordType.Txt);
        var mechanism = new FakeDns().Txt("pool.example", "v=spf1 a:out.pool.example -all").Fail("out.pool.example", RecordType.A);

        Assert.Equal(SpfResult.TempError, (await CheckAsync(txt)).Result);
        Assert.Equal(SpfResult.TempError, (await CheckAsync(mechanism)).Result);
    }

    [Fact]
    public async Task Running_out_of_time_throws_rather_than_reporting_temperror()
    {
        var dns = new FakeDns().Hang("pool.example", RecordType.Txt);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CheckAsync(dns, token: timeout.Token));
    }

    [Theory]
    [InlineData("[192.0.2.1]")]
    [InlineData("localhost")]
    [InlineData("bad domain.example")]
    public async Task A_sender_domain_that_is_no_dns_name_gets_none_without_a_lookup(string domain)
    {
        var dns = new FakeDns();

        Assert.Equal(SpfResult.None, (await CheckAsync(dns, domain)).Result);
        Assert.Empty(dns.Asked);
    }

    private static string Includes(int count) =>
        "v=spf1 " + string.Join(' ', Enumerable.Range(1, count).Select(i => $"include:i{i}.example"));
}
