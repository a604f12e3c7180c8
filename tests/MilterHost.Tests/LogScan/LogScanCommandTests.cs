using System.Net;
using System.Text.Json;
using Milter.Filters.Stores;

namespace MilterHost.Tests.LogScan;

public sealed class LogScanCommandTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private readonly LogScanRun _run = new(Now);

    public void Dispose() => _run.Dispose();

    // Oldest first, as logrotate leaves them: maillog.2.gz, maillog.1, maillog.
    private void WriteEveryKind()
    {
        _run.WriteGzip("maillog.2.gz",
            "Nov 27 13:00:00 mx1 sm-mta[100]: sAR1000a000100: ruleset=check_rcpt, arg1=<a@example.net>, relay=mx.spam.example [192.0.2.10], reject=550 5.7.1 <a@example.net>... Relaying denied. Proper authentication required.",
            "Nov 27 13:00:01 mx1 sm-mta[100]: sAR1000a000100: ruleset=check_rcpt, arg1=<b@example.net>, relay=mx.spam.example [192.0.2.10], reject=550 5.7.1 <b@example.net>... Relaying denied. Proper authentication required.",
            "Nov 27 13:00:02 mx1 sm-mta[100]: sAR1000a000100: ruleset=check_rcpt, arg1=<c@example.net>, relay=mx.spam.example [192.0.2.10], reject=550 5.7.1 <c@example.net>... Relaying denied. Proper authentication required.",
            "Nov 25 10:00:00 mx1 sm-mta[99]: sAP1000a000099: ruleset=check_rcpt, arg1=<old@example.net>, relay=mx.spam.example [192.0.2.10], reject=550 5.7.1 <old@example.net>... Relaying denied. Proper authentication required.",
            "this line is garbage");
        _run.Write("maillog.1",
            "2026-11-27T14:00:00.000001+00:00 mx1 sm-mta[101]: sAR1400a000101: ruleset=check_rcpt, arg1=<nobody@example.com>, relay=mx.spam.example [192.0.2.10], reject=550 5.1.1 <nobody@example.com>... User unknown",
            "2026-11-27T14:00:01.5+00:00 mx1 sm-mta[101]: sAR1400a000101: ruleset=check_rcpt, arg1=<noone@example.com>, relay=mx.spam.example [192.0.2.10], reject=550 5.1.1 <noone@example.com>... User unknown",
            "Nov 27 15:00:00 mx1 sendmail[200]: sAR1500a000200: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=admin, relay=[198.51.100.7]",
            "Nov 27 15:00:05 mx1 sendmail[201]: sAR1500a000201: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=criminal, relay=[192.0.2.100], relay=[198.51.100.7] (may be forged)",
            "Nov 27 15:00:09 mx1 sm-mta[201]: sAR1500a000201: [198.51.100.7]: possible SMTP attack: command=AUTH, count=5",
            "Nov 27 15:01:00 mx1 sm-mta[202]: sAR1501a000202: [198.51.100.7] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA-v4",
            "Nov 27 15:02:00 mx1 sm-mta[203]: sAR1502a000203: lost input channel from [198.51.100.7] to MTA-v4 after rcpt",
            "Nov 27 15:03:00 mx1 sm-mta[204]: sAR1503a000204: rejecting commands from  [198.51.100.7] due to pre-greeting traffic after 0 seconds",
            "",
            "\u0001\u0002 binary junk");
        _run.Write("maillog",
            "Nov 28 01:00:00 mx1 sm-mta[300]: ruleset=check_relay, arg1=[IPv6:2001:db8:0:0:0:0:0:1], arg2=2001:db8::1, relay=[IPv6:2001:db8:0:0:0:0:0:1], reject=421 4.3.2 Connection rate limit exceeded.",
            "Nov 28 01:00:10 mx1 sm-mta[301]: sAS0100a000301: ruleset=check_mail, arg1=<x@nowhere.example>, relay=v6.example [IPv6:2001:DB8::1], reject=553 5.1.8 <x@nowhere.example>... Domain of sender address x@nowhere.example does not exist",
            "Nov 28 01:00:20 mx1 sm-mta[302]: sAS0100a000302: v6.example [IPv6:2001:db8::0:1] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA-v6",
            "Nov 28 01:00:30 mx1 sm-mta[303]: NOQUEUE: Possible SYNFLOOD attack from [IPv6:2001:db8::1]",
            // Milter refusal logged before its envelope line, then one after, then one tied by pid only.
            "Nov 28 02:00:00 mx1 sm-mta[400]: sAS0200a000400: Milter: to=<a@example.com>, reject=550 5.7.1 Command rejected",
            "Nov 28 02:00:01 mx1 sm-mta[400]: sAS0200a000400: from=<s@bad.example>, size=0, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=bad.example [203.0.113.5]",
            "Nov 28 02:10:00 mx1 sm-mta[401]: sAS0210a000401: from=<s@bad.example>, size=0, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=bad.example [203.0.113.5]",
            "Nov 28 02:10:01 mx1 sm-mta[401]: sAS0210a000401: Milter: to=<b@example.com>, reject=550 5.7.1 Command rejected",
            "Nov 28 02:10:02 mx1 sm-mta[401]: sAS0210a000401: Milter: to=<c@example.com>, reject=550 5.7.1 Command rejected",
            "Nov 28 02:20:00 mx1 sm-mta[4242]: NOQUEUE: connect from [203.0.113.5]",
            "Nov 28 02:20:01 mx1 sm-mta[4242]: sAS0220a004242: Milter: from=<s@bad.example>, reject=553 5.7.1 Sender banned",
            "Nov 28 02:20:02 mx1 sm-mta[4242]: sAS0220a004242: Milter: to=<d@example.com>, reject=451 4.7.1 Greylisted, try again later",
            // milterhost's own lines, in two key orders; sendmail's copy of the first counts once.
            "Nov 28 03:00:00 mx1 milterhost[77]: sAS0300a000500: decision=reject client=dyn.example [192.0.2.200] from=<s@example.net> to=<r@example.org> filter=relay rule=relay reply=\"550 5.7.1 Relaying denied\"",
            "Nov 28 03:00:00 mx1 sm-mta[500]: sAS0300a000500: Milter: to=<r@example.org>, reject=550 5.7.1 Relaying denied",
            "Nov 28 03:00:05 mx1 milterhost[77]: sAS0300a000501: filter=recipients to=<u@example.org> client=[192.0.2.200] decision=reject rule=unknown reply=\"550 5.1.1 User unknown\"",
            "Nov 28 03:00:09 mx1 milterhost[77]: sAS0300a000502: decision=tempfail client=[192.0.2.200] to=<v@example.org> filter=greylist rule=greylist reply=\"451 4.7.1 Greylisted\"",
            // Local delivery's User unknown, tied to the client by the queue id's envelope line.
            "Nov 28 04:00:00 mx1 sm-mta[600]: sAS0400a000600: from=<x@spam.example>, size=120, class=0, nrcpts=1, proto=ESMTP, daemon=MTA, relay=mx.spam.example [192.0.2.10]",
            "Nov 28 04:00:01 mx1 sm-mta[601]: sAS0400a000600: <gone@example.com>... User unknown",
            // A local submission's bounce blames nobody.
            "Nov 28 04:10:00 mx1 sm-mta[700]: sAS0410a000700: from=root, size=310, class=0, nrcpts=1, msgid=<1@mx1>, relay=root@localhost",
            "Nov 28 04:10:01 mx1 sm-mta[701]: sAS0410a000700: <nobody@example.com>... User unknown",
            // Our own clients.
            "Nov 28 05:00:00 mx1 sm-mta[800]: sAS0500a000800: ruleset=check_rcpt, arg1=<a@b.example>, relay=localhost [127.0.0.1], reject=550 5.7.1 <a@b.example>... Relaying denied",
            "Nov 28 05:00:01 mx1 sm-mta[800]: sAS0500a000800: ruleset=check_rcpt, arg1=<a@b.example>, relay=localhost [127.0.0.1], reject=550 5.7.1 <a@b.example>... Relaying denied",
            "Nov 28 05:00:02 mx1 sm-mta[800]: sAS0500a000800: ruleset=check_rcpt, arg1=<a@b.example>, relay=localhost [127.0.0.1], reject=550 5.7.1 <a@b.example>... Relaying denied",
            "Nov 28 05:30:00 mx1 sm-mta[900]: sAS0530a000900: to=<a@example.com>, delay=00:00:01, mailer=local, pri=30000, dsn=2.0.0, stat=Sent",
            "Nov 28 99:99:99 mx1 sm-mta[1]: broken time");
    }

    private async Task<JsonElement> JsonAsync(params string[] args)
    {
        var (exit, output, error) = await _run.RunAsync([.. args, "--json"]);
        Assert.Equal("", error);
        Assert.Equal(0, exit);
        return JsonDocument.Parse(output).RootElement;
    }

    private static Dictionary<string, JsonElement> ByIp(JsonElement root) =>
        root.GetProperty("offenders").EnumerateArray().ToDictionary(o => o.GetProperty("ip").GetString()!);

    private static Dictionary<string, int> Kinds(JsonElement offender) =>
        offender.GetProperty("kinds").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());

    private string[] EveryLog() => ["--log", _run.PathOf("maillog.2.gz"), "--log", _run.PathOf("maillog.1"), "--log", _run.PathOf("maillog")];

    [Fact]
    public async Task Every_event_kind_is_counted_per_client_across_gzip_rotated_and_current_files()
    {
        WriteEveryKind();

        var root = await JsonAsync([.. EveryLog(), "--threshold", "1"]);
        var offenders = ByIp(root);

        // Most events first; at equal counts IPv4 before IPv6.
        Assert.Equal(["192.0.2.10", "198.51.100.7", "203.0.113.5", "2001:db8::1", "192.0.2.200"], offenders.Keys.ToArray());
        Assert.Equal(new Dictionary<string, int> { ["relay-denied"] = 3, ["user-unknown"] = 3 }, Kinds(offenders["192.0.2.10"]));
        Assert.Equal(new Dictionary<string, int>
        {
            ["auth-failure"] = 2, ["smtp-attack"] = 1, ["no-mail-command"] = 1, ["lost-input"] = 1, ["pre-greeting"] = 1,
        }, Kinds(offenders["198.51.100.7"]));
        Assert.Equal(new Dictionary<string, int>
        {
            ["reject-5xx"] = 1, ["reject-4xx"] = 1, ["no-mail-command"] = 1, ["synflood"] = 1,
        }, Kinds(offenders["2001:db8::1"]));
        Assert.Equal(new Dictionary<string, int> { ["milter-reject"] = 4 }, Kinds(offenders["203.0.113.5"]));
        Assert.Equal(new Dictionary<string, int> { ["relay-denied"] = 1, ["user-unknown"] = 1 }, Kinds(offenders["192.0.2.200"]));
        Assert.Equal("mx.spam.example", offenders["192.0.2.10"].GetProperty("reverseName").GetString());
        Assert.Equal("v6.example", offenders["2001:db8::1"].GetProperty("reverseName").GetString());
        Assert.Equal(JsonValueKind.Null, offenders["198.51.100.7"].GetProperty("reverseName").ValueKind);

        // 6 + 6 + 4 + 4 + 2 attributed, 1 local-submission bounce, 3 from 127.0.0.1.
        Assert.Equal(26, root.GetProperty("events").GetInt32());
        Assert.Equal(1, root.GetProperty("unattributed").GetInt32());
        Assert.Equal(1, root.GetProperty("duplicates").GetInt32());
        Assert.Equal(1, root.GetProperty("outsideWindow").GetInt32());
        Assert.Equal(3, root.GetProperty("unrecognised").GetInt32());
        Assert.Equal(
            ["127.0.0.1"],
            root.GetProperty("exempt").EnumerateArray().Select(e => e.GetProperty("ip").GetString()!).ToArray());
    }

    [Fact]
    public async Task First_and_last_seen_span_the_clients_events_in_both_timestamp_formats()
    {
        WriteEveryKind();

        var offender = ByIp(await JsonAsync([.. EveryLog(), "--threshold", "1"]))["192.0.2.10"];

        Assert.Equal(new DateTimeOffset(2026, 11, 27, 13, 0, 0, TimeSpan.Zero), offender.GetProperty("firstSeen").GetDateTimeOffset());
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 4, 0, 1, TimeSpan.Zero), offender.GetProperty("lastSeen").GetDateTimeOffset());
    }

    [Fact]
    public async Task Decisions_of_a_monitored_filter_are_not_counted_as_refusals()
    {
        _run.Write("maillog",
            "Nov 28 03:00:00 mx1 milterhost[77]: sAS0300a000500: decision=reject stage=mail client=[192.0.2.60] from=<s@bad.example> filter=ban rule=\"ban#1 (line 3)\" reply=\"550 5.7.1 Access denied\" applied=no",
            "Nov 28 03:00:01 mx1 milterhost[77]: sAS0300a000500: decision=reject stage=rcpt client=[192.0.2.60] from=<s@bad.example> to=<x@example.com> filter=recipients rule=unknown reply=\"550 5.1.1 User unknown\" applied=no",
            "Nov 28 03:00:02 mx1 milterhost[77]: sAS0300a000501: decision=reject stage=mail client=[192.0.2.61] from=<s@bad.example> filter=ban rule=\"ban#1 (line 3)\" reply=\"550 5.7.1 Access denied\"");

        var offenders = ByIp(await JsonAsync(["--log", _run.PathOf("maillog"), "--threshold", "1"]));

        Assert.Equal(["192.0.2.61"], offenders.Keys.ToArray());
    }

    [Fact]
    public async Task Threshold_keeps_only_clients_with_that_many_events()
    {
        WriteEveryKind();

        var offenders = ByIp(await JsonAsync([.. EveryLog(), "--threshold", "5"]));

        Assert.Equal(["192.0.2.10", "198.51.100.7"], offenders.Keys.ToArray());
    }

    [Fact]
    public async Task Without_options_the_configs_logscan_section_sets_threshold_and_window_and_the_command_line_wins()
    {
        WriteEveryKind();
        _run.Settings = new() { Threshold = 1, Since = TimeSpan.FromHours(12) };

        // As the daily timer runs it: no --threshold, no --since.
        var fromConfig = ByIp(await JsonAsync(EveryLog()));
        var overridden = ByIp(await JsonAsync([.. EveryLog(), "--threshold", "5", "--since", "24h"]));

        Assert.Equal(["203.0.113.5", "2001:db8::1", "192.0.2.200", "192.0.2.10"], fromConfig.Keys.ToArray());
        Assert.Equal(["192.0.2.10", "198.51.100.7"], overridden.Keys.ToArray());
    }

    [Fact]
    public async Task Since_drops_events_before_the_window()
    {
        WriteEveryKind();

        var root = await JsonAsync([.. EveryLog(), "--threshold", "1", "--since", "12h"]);
        var offenders = ByIp(root);

        // Only this morning's lines: the IPv6 client, the milter refusals, milterhost's and one User unknown.
        Assert.Equal(["203.0.113.5", "2001:db8::1", "192.0.2.200", "192.0.2.10"], offenders.Keys.ToArray());
        Assert.Equal(new Dictionary<string, int> { ["user-unknown"] = 1 }, Kinds(offenders["192.0.2.10"]));
        Assert.Equal(12, root.GetProperty("outsideWindow").GetInt32());
    }

    [Fact]
    public async Task Ignored_networks_and_allow_clients_are_reported_but_never_offenders()
    {
        WriteEveryKind();

        var root = await JsonAsync([.. EveryLog(), "--threshold", "3", "--ignore", "198.51.100.0/24", "--ignore", "2001:db8::1"]);

        Assert.Equal(["192.0.2.10", "203.0.113.5"], ByIp(root).Keys.ToArray());
        var exempt = root.GetProperty("exempt").EnumerateArray()
            .ToDictionary(e => e.GetProperty("ip").GetString()!, e => e.GetProperty("why").GetString());
        Assert.Equal("--ignore 198.51.100.0/24", exempt["198.51.100.7"]);
        Assert.Equal("--ignore 2001:db8::1/128", exempt["2001:db8::1"]);
        Assert.Equal("relay.allow_clients 127.0.0.0/8", exempt["127.0.0.1"]);
    }

    [Fact]
    public async Task Year_rollover_puts_december_lines_in_last_year()
    {
        using var january = new LogScanRun(new DateTimeOffset(2027, 1, 1, 0, 30, 0, TimeSpan.Zero));
        var log = january.Write("maillog",
            "Dec 31 23:50:00 mx1 sm-mta[1]: sAV2350a000001: [192.0.2.50] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
            "Jan  1 00:10:00 mx1 sm-mta[2]: sB10010a000002: [192.0.2.50] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA");

        var (exit, output, _) = await january.RunAsync("--log", log, "--threshold", "2", "--since", "1h", "--json");
        var offender = ByIp(JsonDocument.Parse(output).RootElement)["192.0.2.50"];

        Assert.Equal(0, exit);
        Assert.Equal(2, offender.GetProperty("count").GetInt32());
        Assert.Equal(new DateTimeOffset(2026, 12, 31, 23, 50, 0, TimeSpan.Zero), offender.GetProperty("firstSeen").GetDateTimeOffset());
        Assert.Equal(new DateTimeOffset(2027, 1, 1, 0, 10, 0, TimeSpan.Zero), offender.GetProperty("lastSeen").GetDateTimeOffset());
    }

    [Fact]
    public async Task Apply_bans_offenders_and_a_second_run_adds_nothing_new()
    {
        WriteEveryKind();

        // The same lines twice (no state kept): the bans already running are not stretched.
        var (firstExit, first, _) = await _run.RunAsync([.. EveryLog(), "--apply", "--ban-for", "7d", "--state", "none"]);
        _run.Time.Advance(TimeSpan.FromHours(1));
        var (secondExit, second, _) = await _run.RunAsync([.. EveryLog(), "--apply", "--ban-for", "7d", "--state", "none"]);

        Assert.Equal(0, firstExit);
        Assert.Equal(0, secondExit);
        Assert.Contains("Applied: 2 new ban(s) for 7d, 0 already banned.", first);
        Assert.Contains("Applied: 0 new ban(s) for 7d, 2 already banned.", second);
        Assert.Equal(2, _run.Store.All.Count);
        var ban = _run.Store.All.Single(b => b.Network.BaseAddress.Equals(IPAddress.Parse("192.0.2.10")));
        Assert.Equal(IPNetwork.Parse("192.0.2.10/32"), ban.Network);
        Assert.Equal("logscan: 6 events (relay-denied, user-unknown)", ban.Reason);
        Assert.Equal(BanSource.Logscan, ban.Source);
        Assert.Equal(Now, ban.Created);
        Assert.Equal(Now + TimeSpan.FromDays(7), ban.Expires);
    }

    [Fact]
    public async Task Apply_bans_an_ipv6_offender_as_a_single_address()
    {
        WriteEveryKind();

        await _run.RunAsync([.. EveryLog(), "--apply", "--threshold", "4", "--ban-for", "36h"]);

        var ban = _run.Store.All.Single(b => b.Network.BaseAddress.Equals(IPAddress.Parse("2001:db8::1")));
        Assert.Equal(IPNetwork.Parse("2001:db8::1/128"), ban.Network);
        Assert.Equal(Now + TimeSpan.FromHours(36), ban.Expires);
    }

    [Fact]
    public async Task Table_shows_ip_count_kinds_times_and_reverse_name()
    {
        WriteEveryKind();

        var (exit, output, error) = await _run.RunAsync(EveryLog());

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        var lines = output.Split('\n');
        Assert.Equal("IP            EVENTS  KINDS                                                                       FIRST SEEN                  LAST SEEN                   REVERSE NAME", lines[0]);
        Assert.Equal("192.0.2.10         6  relay-denied:3,user-unknown:3                                               2026-11-27 13:00:00 +00:00  2026-11-28 04:00:01 +00:00  mx.spam.example", lines[1]);
        Assert.Equal("198.51.100.7       6  auth-failure:2,smtp-attack:1,no-mail-command:1,lost-input:1,pre-greeting:1  2026-11-27 15:00:00 +00:00  2026-11-27 15:03:00 +00:00  -", lines[2]);
        Assert.Equal("", lines[3]);
        Assert.Equal("2 offender(s) with 5 or more events since 2026-11-27 12:00:00 +00:00.", lines[4]);
        Assert.Equal("Read 39 lines from 3 file(s): 26 events in the window, 1 before it, 1 without a client, 1 logged twice, 0 in authenticated sessions, 0 ambiguous refusals counted for nobody, 3 unrecognised lines skipped.", lines[5]);
    }

    [Fact]
    public async Task Table_names_offenders_spared_by_allow_clients()
    {
        WriteEveryKind();

        var (_, output, _) = await _run.RunAsync([.. EveryLog(), "--threshold", "3"]);

        Assert.Contains("\nNot banned: 127.0.0.1 (3 events), relay.allow_clients 127.0.0.0/8.\n", output);
    }

    [Fact]
    public async Task No_offenders_is_said_plainly()
    {
        var log = _run.Write("maillog", "Nov 28 06:00:00 mx1 sm-mta[1]: sAS0600a000001: [192.0.2.1] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA");

        var (exit, output, _) = await _run.RunAsync("--log", log);

        Assert.Equal(0, exit);
        Assert.StartsWith("No offenders: no client reached 5 events since 2026-11-27 12:00:00 +00:00.\n", output);
    }

    [Fact]
    public async Task Firewall_nft_prints_set_elements_with_the_ban_timeout_and_how_to_make_the_sets()
    {
        WriteEveryKind();

        var (_, output, _) = await _run.RunAsync([.. EveryLog(), "--threshold", "4", "--firewall", "nft", "--ban-for", "7d"]);

        Assert.Contains("nft add element inet filter milterhost_ban { 192.0.2.10 timeout 7d }", output);
        Assert.Contains("nft add element inet filter milterhost_ban6 { 2001:db8::1 timeout 7d }", output);
        Assert.Contains("#   nft add set inet filter milterhost_ban '{ type ipv4_addr; flags timeout; }'", output);
        Assert.Contains("#   nft add rule inet filter input tcp dport 25 ip saddr @milterhost_ban drop", output);
        Assert.DoesNotContain("127.0.0.1 timeout", output);
        Assert.Empty(_run.Store.All);
    }

    [Fact]
    public async Task Firewall_iptables_prints_insert_rules_for_port_25_per_family()
    {
        WriteEveryKind();

        var (_, output, _) = await _run.RunAsync([.. EveryLog(), "--threshold", "4", "--firewall", "iptables"]);

        Assert.Contains("\niptables -I INPUT -s 192.0.2.10 -p tcp --dport 25 -j DROP\n", output);
        Assert.Contains("\nip6tables -I INPUT -s 2001:db8::1 -p tcp --dport 25 -j DROP\n", output);
        Assert.DoesNotContain("-s 127.0.0.1", output);
    }

    [Fact]
    public async Task Json_lists_applied_bans_and_firewall_lines()
    {
        WriteEveryKind();

        var root = await JsonAsync([.. EveryLog(), "--apply", "--firewall", "iptables"]);

        Assert.Equal(
            ["now", "since", "threshold", "files", "fileErrors", "lines", "events", "outsideWindow", "unattributed", "duplicates", "ambiguous", "authenticated", "unrecognised", "offenders", "exempt", "applied", "firewall"],
            root.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(
            ["ip", "count", "kinds", "firstSeen", "lastSeen", "reverseName", "nameMayBeForged", "reason"],
            root.GetProperty("offenders")[0].EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(Now, root.GetProperty("now").GetDateTimeOffset());
        Assert.Equal(Now - TimeSpan.FromHours(24), root.GetProperty("since").GetDateTimeOffset());
        Assert.Equal(["192.0.2.10", "198.51.100.7"], root.GetProperty("applied").GetProperty("new").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal(0, root.GetProperty("applied").GetProperty("alreadyBanned").GetArrayLength());
        Assert.Equal("7d", root.GetProperty("applied").GetProperty("banFor").GetString());
        Assert.Equal(3, root.GetProperty("firewall").GetArrayLength());
        Assert.Equal("logscan: 6 events (relay-denied, user-unknown)", root.GetProperty("offenders")[0].GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Missing_log_is_an_error_and_the_other_logs_are_still_scanned()
    {
        WriteEveryKind();

        var (exit, output, error) = await _run.RunAsync("--log", _run.PathOf("nope"), "--log", _run.PathOf("maillog.1"));

        Assert.Equal(1, exit);
        Assert.StartsWith($"logscan: cannot read {_run.PathOf("nope")}: ", error);
        Assert.Contains("198.51.100.7", output);
    }

    [Fact]
    public async Task Overlong_and_garbage_lines_are_counted_and_skipped()
    {
        var log = _run.Write("maillog",
            new string('x', 20_000),
            "Nov 28 06:00:00 mx1 sm-mta[1]: sAS0600a000001: [192.0.2.1] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
            "\uFFFD\uFFFD garbage",
            "Nov 28 06:00:01 mx1 sm-mta[1]: sAS0600a000001: [192.0.2.1] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA");

        var root = await JsonAsync("--log", log, "--threshold", "2");

        Assert.Equal(4, root.GetProperty("lines").GetInt32());
        Assert.Equal(2, root.GetProperty("unrecognised").GetInt32());
        Assert.Equal(2, ByIp(root)["192.0.2.1"].GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task Config_path_is_handed_to_the_environment_loader()
    {
        var log = _run.Write("maillog");

        await _run.RunAsync("--log", log, "--config", "/etc/milterhost/other.yaml");

        Assert.Equal("/etc/milterhost/other.yaml", _run.ConfigPathSeen);
    }

    [Theory]
    [InlineData("--since", "yesterday", "'yesterday' is not a duration")]
    [InlineData("--threshold", "0", "--threshold must be 1 or more.")]
    [InlineData("--ignore", "10.0.0.0/33", "'10.0.0.0/33' has a bad prefix length; it must be 0-32 for IPv4")]
    [InlineData("--ignore", "mx.example", "'mx.example' is not an IP address or CIDR network")]
    [InlineData("--ban-for", "0s", "--ban-for: '0s' must be longer than zero")]
    [InlineData("--firewall", "pf", "--firewall takes nft or iptables, not 'pf'.")]
    public async Task Bad_option_values_get_a_clear_error(string option, string value, string message)
    {
        var (exit, _, error) = await _run.RunAsync(option, value);

        Assert.NotEqual(0, exit);
        Assert.Contains(message, error);
    }
}
