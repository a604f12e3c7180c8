using System.Net;
using System.Text.Json;

namespace MilterHost.Tests.LogScan;

/// <summary>Whom logscan never bans, however many refusals a log line puts on them, and what it never counts.</summary>
public sealed class LogScanExemptionTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private readonly LogScanRun _run = new(Now);

    public void Dispose() => _run.Dispose();

    private static string[] Refusals(string client, int count) =>
        Enumerable.Range(0, count).Select(i =>
            $"Nov 28 06:00:{i:00} mx1 sm-mta[70{i}]: sAS0600a00070{i}: ruleset=check_rcpt, arg1=<a{i}@b.example>, relay={client}, reject=550 5.7.1 <a{i}@b.example>... Relaying denied").ToArray();

    private async Task<JsonElement> ApplyAsync(params string[] lines)
    {
        var log = _run.Write("maillog", lines);
        var (exit, output, error) = await _run.RunAsync("--log", log, "--threshold", "3", "--apply", "--json");
        Assert.Equal("", error);
        Assert.Equal(0, exit);
        return JsonDocument.Parse(output).RootElement;
    }

    private static Dictionary<string, string> Exempt(JsonElement root) =>
        root.GetProperty("exempt").EnumerateArray().ToDictionary(e => e.GetProperty("ip").GetString()!, e => e.GetProperty("why").GetString()!);

    [Theory]
    [InlineData("localhost [127.0.0.1]", "127.0.0.1")]
    [InlineData("[127.3.4.5]", "127.3.4.5")]
    [InlineData("[IPv6:0:0:0:0:0:0:0:1]", "::1")]
    public async Task Loopback_is_never_banned_even_when_allow_clients_leaves_it_out(string relay, string ip)
    {
        _run.AllowClients = [];

        var root = await ApplyAsync(Refusals(relay, 4));

        Assert.Empty(root.GetProperty("offenders").EnumerateArray());
        Assert.Equal("loopback", Exempt(root)[ip]);
        Assert.Empty(_run.Store.All);
    }

    [Fact]
    public async Task This_hosts_own_addresses_are_never_banned()
    {
        _run.OwnAddresses = new HashSet<IPAddress> { IPAddress.Parse("192.0.2.25"), IPAddress.Parse("2001:db8::25") };

        var root = await ApplyAsync([.. Refusals("mx.example [192.0.2.25]", 4), .. Refusals("[IPv6:2001:db8:0:0:0:0:0:25]", 4)]);

        Assert.Equal("an address of this host", Exempt(root)["192.0.2.25"]);
        Assert.Equal("an address of this host", Exempt(root)["2001:db8::25"]);
        Assert.Empty(_run.Store.All);
    }

    [Fact]
    public async Task When_this_hosts_addresses_cannot_be_listed_it_says_so()
    {
        // A sandbox without netlink (a unit's RestrictAddressFamilies): the host's own addresses are then bannable.
        _run.OwnAddressesUnreadable = "Address family not supported by protocol";
        var log = _run.Write("maillog", Refusals("[192.0.2.25]", 4));

        var (exit, _, error) = await _run.RunAsync("--log", log, "--threshold", "3");

        Assert.Equal(0, exit);
        Assert.Contains("logscan: cannot list this host's addresses (Address family not supported by protocol): only loopback and relay.allow_clients are exempt; name the others with --ignore", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_timers_sandbox_lets_logscan_list_this_hosts_addresses()
    {
        var unit = File.ReadAllLines(RepositoryRoot.Combine("packaging", "milterhost-logscan.service"));
        var families = Assert.Single(unit, l => l.StartsWith("RestrictAddressFamilies=", StringComparison.Ordinal)).Split('=')[1].Split(' ');
        Assert.Contains("AF_NETLINK", families);
    }

    [Fact]
    public async Task Relay_allow_clients_are_never_banned()
    {
        _run.AllowClients = [IPNetwork.Parse("198.51.100.0/24")];

        var root = await ApplyAsync([.. Refusals("office.example [198.51.100.20]", 4), .. Refusals("[192.0.2.7]", 4)]);

        Assert.Equal("relay.allow_clients 198.51.100.0/24", Exempt(root)["198.51.100.20"]);
        Assert.Equal(IPNetwork.Parse("192.0.2.7/32"), Assert.Single(_run.Store.All).Network);
    }

    [Fact]
    public async Task Unspecified_and_multicast_addresses_are_never_banned()
    {
        var root = await ApplyAsync([.. Refusals("[0.0.0.0]", 4), .. Refusals("[224.0.0.1]", 4)]);

        Assert.Equal("not a unicast address", Exempt(root)["0.0.0.0"]);
        Assert.Equal("not a unicast address", Exempt(root)["224.0.0.1"]);
        Assert.Empty(_run.Store.All);
    }

    [Fact]
    public async Task Refusals_in_an_authenticated_session_are_not_counted()
    {
        var root = await ApplyAsync(
            // sendmail's own line: pid 800's session authenticated, then mistyped three local recipients.
            "Nov 28 06:00:00 mx1 sm-mta[800]: AUTH=server, relay=home.example [192.0.2.80], authid=alice, mech=PLAIN, bits=0",
            "Nov 28 06:00:01 mx1 sm-mta[800]: sAS0600a000800: ruleset=check_rcpt, arg1=<bobb@example.com>, relay=home.example [192.0.2.80], reject=550 5.1.1 <bobb@example.com>... User unknown",
            "Nov 28 06:00:02 mx1 sm-mta[800]: sAS0600a000800: ruleset=check_rcpt, arg1=<bbo@example.com>, relay=home.example [192.0.2.80], reject=550 5.1.1 <bbo@example.com>... User unknown",
            "Nov 28 06:00:03 mx1 sm-mta[800]: sAS0600a000800: ruleset=check_rcpt, arg1=<bo@example.com>, relay=home.example [192.0.2.80], reject=550 5.1.1 <bo@example.com>... User unknown",
            // milterhost's lines carry auth=; sendmail's copy of each counts once, which is none.
            "Nov 28 06:10:00 mx1 milterhost[77]: sAS0610a000801: decision=reject stage=rcpt client=[192.0.2.81] from=<carol@example.com> to=<dvae@example.com> auth=carol filter=recipients rule=unknown reply=\"550 5.1.1 User unknown\"",
            "Nov 28 06:10:00 mx1 sm-mta[801]: sAS0610a000801: Milter: to=<dvae@example.com>, reject=550 5.1.1 User unknown",
            "Nov 28 06:10:01 mx1 sm-mta[801]: sAS0610a000801: from=<carol@example.com>, size=0, class=0, nrcpts=0, proto=ESMTPA, daemon=MTA, relay=[192.0.2.81]",
            "Nov 28 06:10:02 mx1 milterhost[77]: sAS0610a000801: decision=reject stage=rcpt client=[192.0.2.81] from=<carol@example.com> to=<dave2@example.com> auth=carol filter=recipients rule=unknown reply=\"550 5.1.1 User unknown\"",
            "Nov 28 06:10:03 mx1 milterhost[77]: sAS0610a000801: decision=reject stage=rcpt client=[192.0.2.81] from=<carol@example.com> to=<dave3@example.com> auth=carol filter=recipients rule=unknown reply=\"550 5.1.1 User unknown\"",
            // A new session of pid 800, unauthenticated: its refusals count again.
            "Nov 28 07:00:00 mx1 sm-mta[800]: NOQUEUE: connect from [192.0.2.82]",
            "Nov 28 07:00:01 mx1 sm-mta[800]: sAS0700a000800: ruleset=check_rcpt, arg1=<x@example.com>, relay=[192.0.2.82], reject=550 5.1.1 <x@example.com>... User unknown",
            "Nov 28 07:00:02 mx1 sm-mta[800]: sAS0700a000800: ruleset=check_rcpt, arg1=<y@example.com>, relay=[192.0.2.82], reject=550 5.1.1 <y@example.com>... User unknown",
            "Nov 28 07:00:03 mx1 sm-mta[800]: sAS0700a000800: ruleset=check_rcpt, arg1=<z@example.com>, relay=[192.0.2.82], reject=550 5.1.1 <z@example.com>... User unknown");

        Assert.Equal(["192.0.2.82"], root.GetProperty("offenders").EnumerateArray().Select(o => o.GetProperty("ip").GetString()!).ToArray());
        Assert.Equal(6, root.GetProperty("authenticated").GetInt32());
        Assert.Equal(1, root.GetProperty("duplicates").GetInt32());
    }

    [Fact]
    public async Task Sendmails_copy_logged_before_milterhosts_auth_line_is_taken_back()
    {
        // As a real sendmail 8.17 at the default LogLevel writes it: no AUTH=server line, the milter's
        // refusal sometimes before milterhost's own line, the client known from the pid's connect line.
        var lines = new List<string> { "Nov 28 06:00:00 mx1 sm-mta[820]: NOQUEUE: connect from home.example [192.0.2.82]" };
        for (var i = 0; i < 3; i++)
        {
            lines.Add($"Nov 28 06:00:0{i + 1} mx1 sm-mta[820]: sAS0600a000820: Milter: to=<typo{i}@example.com>, reject=550 5.1.1 User unknown");
            lines.Add($"Nov 28 06:00:0{i + 1} mx1 milterhost[77]: sAS0600a000820: decision=reject stage=rcpt client=home.example [192.0.2.82] from=<erin@example.com> to=<typo{i}@example.com> auth=erin filter=recipients rule=unknown reply=\"550 5.1.1 User unknown\"");
        }
        lines.Add("Nov 28 06:00:05 mx1 sm-mta[820]: sAS0600a000820: from=<erin@example.com>, size=0, class=0, nrcpts=0, proto=ESMTPA, daemon=MTA, relay=home.example [192.0.2.82]");

        var root = await ApplyAsync([.. lines]);

        Assert.Empty(root.GetProperty("offenders").EnumerateArray());
        Assert.Equal(0, root.GetProperty("events").GetInt32());
        Assert.Equal(3, root.GetProperty("authenticated").GetInt32());
        Assert.Equal(3, root.GetProperty("duplicates").GetInt32());
    }
}
