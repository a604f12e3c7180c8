using System.Net;
using Milter.Filters.Configuration;
using Milter.Protocol.Session;
using MilterHost.Configuration;

namespace MilterHost.Tests;

/// <summary>A valid file binds to every field of the options records, prints back, and loads again the same.</summary>
public sealed class ConfigLoadTests : IDisposable
{
    private const string FullConfig = """
        listen: inet6:8891@[::1]
        socket: { mode: "0640", group: smmsp }
        user: milterhost
        database: "postgres:Host=db.example.com;Database=milter;Username=milter"
        on_error: accept
        log: { level: debug, syslog: false, file: logs/milterhost.log }
        limits:
          max_connections: 50
          idle_timeout: 90s
          max_frame_size: 256K
          stage_timeout: 500ms
          shutdown_grace: 1h30m
        local_domains: [Example.COM, .example.net, "[192.0.2.1]", "file:hosts"]
        relay:
          allow_clients: [10.1.2.3/8, "2001:db8::1"]
          allow_authenticated: false
        recipients:
          reject_unknown: false
          action: discard
          sources: [passwd, "aliases:aliases", "virtusertable:virtusertable"]
          addresses: [postmaster@example.com]
        ban:
          - client: 203.0.113.7/24
            reply: "550 5.7.1 Go away"
          - client_name: "*.dyn.example.net"
            action: tempfail
          - helo: localhost
          - sender: "@spammer.example"
            action: discard
          - recipient: "/^former-/i"
          - subject: "(?i)cheap meds"
            reply: "554 no spam here"
        greylist:
          enabled: false
          delay: 5m
          retry_window: 1d
          pass_lifetime: 60d
          subnet: { ipv4: 32, ipv6: 48 }
          auto_whitelist: { after: 10, lifetime: 7d }
          bypass_ban: { after: 2, within: 30m, ban_for: 1d }
          skip:
            clients: [192.0.2.0/24]
            senders: ["*@partner.example"]
            recipients: [abuse@example.com]
            client_names: ["*.Google.com", "mx?.partner.example."]
            authenticated: false
          per_message: false
          spf_pools: false
          only_suspicious: true
          suspicious_names: ["^dyn-"]
        dns: { servers: ["127.0.0.53:5354", "::1"], timeout: 300ms }
        dns_lists:
          - { zone: list.dnswl.example, action: skip_greylist }
          - { zone: BL.example., codes: [127.0.0.2-127.0.0.11, 127.0.0.20], action: tempfail }
        status: { listen: "127.0.0.1:9025", token: s3cret }
        logscan: { threshold: 3, since: 2d, ban_for: 30d }
        """;

    private readonly ConfigDirectory _dir = new();

    public ConfigLoadTests()
    {
        _dir.Write("hosts", "example.org\n");
        _dir.Write("aliases", "postmaster: root\n");
        _dir.Write("virtusertable", "info@example.org alice\n");
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Full_file_binds_every_field()
    {
        var result = _dir.Load(FullConfig, out var path);
        Assert.True(result.Success, string.Join("\n", result.Errors));
        var config = result.Config;
        var o = config.Options;
        var dir = _dir.Path;

        Assert.Equal(path, config.Path);
        Assert.Equal("inet6:8891@[::1]", o.Listen);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 8891), config.Listen.ToEndPoint());
        Assert.Equal(new SocketOptions { Mode = "0640", Group = "smmsp" }, o.Socket);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, config.SocketMode);
        Assert.Equal("milterhost", o.User);
        Assert.Equal("postgres:Host=db.example.com;Database=milter;Username=milter", o.Database);
        Assert.Equal(DatabaseKind.Postgres, config.Database.Kind);
        Assert.Equal(OnError.Accept, o.OnError);
        Assert.Equal(new LogOptions { Level = "debug", Syslog = false, File = $"{dir}/logs/milterhost.log" }, o.Log);
        Assert.Equal(new MilterLimits
        {
            MaxConnections = 50,
            IdleTimeout = TimeSpan.FromSeconds(90),
            MaxFrameSize = 256 * 1024,
            StageTimeout = TimeSpan.FromMilliseconds(500),
            ShutdownGrace = TimeSpan.FromMinutes(90),
        }, o.Limits);
        Assert.Equal(["example.com", ".example.net", "[192.0.2.1]", $"file:{dir}/hosts"], o.LocalDomains);

        // Host bits are cleared; a bare address is a network of one.
        Assert.Equal([IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("2001:db8::1/128")], o.Relay.AllowClients);
        Assert.False(o.Relay.AllowAuthenticated);

        Assert.False(o.Recipients.RejectUnknown);
        Assert.Equal(RecipientAction.Discard, o.Recipients.Action);
        Assert.Equal(["passwd", $"aliases:{dir}/aliases", $"virtusertable:{dir}/virtusertable"], o.Recipients.Sources);
        Assert.Equal(["postmaster@example.com"], o.Recipients.Addresses);

        Assert.Equal(
        [
            new BanRule { Kind = BanKind.Client, Pattern = "203.0.113.0/24", Reply = "550 5.7.1 Go away", Id = "ban#1 (line 23)" },
            new BanRule { Kind = BanKind.ClientName, Pattern = "*.dyn.example.net", Action = BanAction.Tempfail, Id = "ban#2 (line 25)" },
            new BanRule { Kind = BanKind.Helo, Pattern = "localhost", Id = "ban#3 (line 27)" },
            new BanRule { Kind = BanKind.Sender, Pattern = "@spammer.example", Action = BanAction.Discard, Id = "ban#4 (line 28)" },
            new BanRule { Kind = BanKind.Recipient, Pattern = "/^former-/i", Id = "ban#5 (line 30)" },
            new BanRule { Kind = BanKind.Subject, Pattern = "(?i)cheap meds", Reply = "554 no spam here", Id = "ban#6 (line 31)" },
        ], o.Ban);

        var g = o.Greylist;
        Assert.False(g.Enabled);
        Assert.Equal(TimeSpan.FromMinutes(5), g.Delay);
        Assert.Equal(TimeSpan.FromDays(1), g.RetryWindow);
        Assert.Equal(TimeSpan.FromDays(60), g.PassLifetime);
        Assert.Equal(new SubnetOptions { Ipv4 = 32, Ipv6 = 48 }, g.Subnet);
        Assert.Equal(new AutoWhitelistOptions { After = 10, Lifetime = TimeSpan.FromDays(7) }, g.AutoWhitelist);
        Assert.Equal(new BypassBanOptions { After = 2, Within = TimeSpan.FromMinutes(30), BanFor = TimeSpan.FromDays(1) }, g.BypassBan);
        Assert.Equal([IPNetwork.Parse("192.0.2.0/24")], g.Skip.Clients);
        Assert.Equal(["*@partner.example"], g.Skip.Senders);
        Assert.Equal(["abuse@example.com"], g.Skip.Recipients);
        Assert.Equal(["*.google.com", "mx?.partner.example"], g.Skip.ClientNames);
        Assert.False(g.Skip.Authenticated);
        Assert.False(g.PerMessage);
        Assert.False(g.SpfPools);
        Assert.True(g.OnlySuspicious);
        var suspicious = Assert.Single(g.SuspiciousNames);
        Assert.Equal("^dyn-", suspicious.ToString());
        Assert.Matches(suspicious, "DYN-1-2-3-4.isp.example"); // host names match case-insensitively

        Assert.Equal(["127.0.0.53:5354", "::1"], o.Dns.Servers);
        Assert.Equal(TimeSpan.FromMilliseconds(300), o.Dns.Timeout);
        Assert.Equal(2, o.DnsLists.Count);
        Assert.Equal(("list.dnswl.example", DnsListAction.SkipGreylist, "dns_lists#1 (line 53)"), (o.DnsLists[0].Zone, o.DnsLists[0].Action, o.DnsLists[0].Id));
        Assert.Empty(o.DnsLists[0].Codes);
        Assert.Equal(("bl.example", DnsListAction.Tempfail, "dns_lists#2 (line 54)"), (o.DnsLists[1].Zone, o.DnsLists[1].Action, o.DnsLists[1].Id));
        Assert.Equal(["127.0.0.2-127.0.0.11", "127.0.0.20"], o.DnsLists[1].Codes);
        Assert.Equal(new StatusOptions { Listen = "127.0.0.1:9025", Token = "s3cret" }, o.Status);
        Assert.Equal(new LogScanSettings { Threshold = 3, Since = TimeSpan.FromDays(2), BanFor = TimeSpan.FromDays(30) }, o.LogScan);
    }

    [Fact]
    public void Positions_say_where_each_setting_was_written()
    {
        var result = _dir.Load(FullConfig, out var path);
        Assert.True(result.Success);
        Assert.Equal(new ConfigPosition(35, 3), result.Config.Positions["greylist.delay"]);
        Assert.Equal(new ConfigPosition(30, 5), result.Config.Positions["ban#5"]);
        Assert.Equal(new ConfigPosition(24, 5), result.Config.Positions["ban#1.reply"]);
        Assert.Equal($"{path}:55:1", result.Config.Describe("status"));
        Assert.Equal(path, result.Config.Describe("listen.nowhere"));
    }

    [Fact]
    public void Effective_config_loads_back_to_the_same_options()
    {
        var first = _dir.Load(FullConfig, out _);
        Assert.True(first.Success);
        var printed = EffectiveConfig.ToYaml(first.Config.Options);

        var again = ConfigLoader.Load(_dir.Write("printed.yaml", printed));
        Assert.True(again.Success, string.Join("\n", again.Errors) + "\n" + printed);
        Assert.Equal(printed, EffectiveConfig.ToYaml(again.Config.Options));
        // Everything but the secret survives; the token is printed masked.
        Assert.Equal(first.Config.Options.Ban.Select(r => r with { Id = "" }), again.Config.Options.Ban.Select(r => r with { Id = "" }));
        Assert.Equal(first.Config.Options.Greylist.Delay, again.Config.Options.Greylist.Delay);
        Assert.Contains("token: '********'", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", printed, StringComparison.Ordinal);
    }

    [Fact]
    public void Effective_config_masks_a_database_password()
    {
        var result = _dir.Load("database: \"postgres:Host=db;Username=milter;Password=hunter2\"\n", out _);
        Assert.True(result.Success);
        Assert.Equal("postgres:Host=db;Username=milter;Password=hunter2", result.Config.Options.Database);
        var printed = EffectiveConfig.ToYaml(result.Config.Options);
        Assert.Contains("database: postgres:host=db;username=milter;password=********", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", printed, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("trace", "Trace")]
    [InlineData("debug", "Debug")]
    [InlineData("info", "Info")]
    [InlineData("warn", "Warn")]
    [InlineData("warning", "Warn")]
    [InlineData("Warning", "Warn")]
    [InlineData("error", "Error")]
    [InlineData("fatal", "Fatal")]
    [InlineData("off", "Off")]
    public void Every_level_the_schema_accepts_is_a_logging_level(string written, string expected)
    {
        var result = _dir.Load($"log: {{ level: {written} }}\n", out _);
        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(NLog.LogLevel.FromString(expected), MilterHost.Logging.LoggingSetup.ParseLevel(result.Config.Options.Log.Level));
    }

    [Fact]
    public void An_explicit_empty_mapping_means_every_default()
    {
        var result = _dir.Load("# every default\n{}\n", out _);
        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(EffectiveConfig.ToYaml(new DaemonOptions()), EffectiveConfig.ToYaml(result.Config.Options));
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n   \n")]
    [InlineData("# only a comment\n# and another\n")]
    public void A_file_with_no_setting_is_refused_not_read_as_every_default(string text)
    {
        // An editor that truncated the file, or '>' for '>>': on a reload it would replace the running rules.
        var errors = _dir.Errors(text, out var path);
        Assert.Equal($"{path}:1:1: the file holds no setting (empty, or only comments); write {{}} for every default", Assert.Single(errors));
    }

    [Fact]
    public async Task A_fifo_or_a_device_is_refused_without_reading_it_and_a_link_to_a_file_is_followed()
    {
        // A FIFO would block the read until someone wrote to it; /dev/null would read as an empty file.
        var fifo = await _dir.FifoAsync("fifo.yaml");
        Assert.Equal($"{fifo}: is a FIFO, not a configuration file", Assert.Single(ConfigLoader.Load(fifo).Errors).ToString());
        Assert.Equal("/dev/null: is a character device, not a configuration file", Assert.Single(ConfigLoader.Load("/dev/null").Errors).ToString());

        var real = _dir.Write("real.yaml", "log: { level: debug }\n");
        var link = Path.Combine(_dir.Path, "link.yaml");
        File.CreateSymbolicLink(link, real);
        Assert.True(ConfigLoader.Load(link).Success);
    }

    [Fact]
    public void A_network_with_host_bits_set_is_read_as_its_network_with_a_warning()
    {
        var result = _dir.Load("relay:\n  allow_clients: [10.0.0.1/8, 192.0.2.0/24]\nban:\n  - client: 2001:db8::5/64\n", out var path);

        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal([IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("192.0.2.0/24")], result.Config.Options.Relay.AllowClients);
        Assert.Equal(
            [
                $"{path}:2:19: warning: relay.allow_clients#1: '10.0.0.1/8' has host bits set: it is read as 10.0.0.0/8, every address in it; write 10.0.0.0/8 to say so, or 10.0.0.1/32 for the one address",
                $"{path}:4:13: warning: ban#1.client: '2001:db8::5/64' has host bits set: it is read as 2001:db8::/64, every address in it; write 2001:db8::/64 to say so, or 2001:db8::5/128 for the one address",
            ],
            result.Config.Warnings.Select(w => w.ToString()));
    }

    [Fact]
    public void A_shutdown_grace_past_the_units_stop_timeout_is_read_with_a_warning()
    {
        var result = _dir.Load("limits:\n  shutdown_grace: 40s\n", out var path);

        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(TimeSpan.FromSeconds(40), result.Config.Options.Limits.ShutdownGrace);
        Assert.Equal(
            $"{path}:2:19: warning: limits.shutdown_grace: 40s leaves the stores too little of the packaged unit's 30 s to stop in (TimeoutStopSec=30s): systemd kills the daemon then; raise TimeoutStopSec in a drop-in (systemctl edit milterhost) to at least 1m",
            Assert.Single(result.Config.Warnings).ToString());
        Assert.Empty(_dir.Load("limits:\n  shutdown_grace: 20s\n", out _).Config!.Warnings);
    }

    [Fact]
    public void A_byte_that_is_not_utf8_is_an_error_at_its_line_and_column()
    {
        var path = _dir.Write("milterhost.yaml", "");
        // "d\xe9nied": Latin-1, which would otherwise reach clients as U+FFFD in the reply.
        File.WriteAllBytes(path, [.. "# caf\u00e9\nban:\n  - sender: x@example.com\n    reply: \"550 5.7.1 d"u8, 0xE9, .. "nied\"\n"u8]);

        var result = ConfigLoader.Load(path);

        Assert.False(result.Success);
        Assert.Equal($"{path}:4:24: not UTF-8: byte 0xE9 here is no character; save the file as UTF-8", Assert.Single(result.Errors).ToString());
    }

    [Fact]
    public void Local_users_bind_as_written_names_and_uids()
    {
        var result = _dir.Load("relay:\n  local_users: [root, \"65534\", 4242]\n  submission_user: root\n", out _);
        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(["root", "65534", "4242"], result.Config.Options.Relay.LocalUsers);
        Assert.Equal("root", result.Config.Options.Relay.SubmissionUser);
    }

    [Fact]
    public void Keys_left_out_keep_their_defaults()
    {
        var result = _dir.Load("greylist:\n  delay: 10m\nrelay:\n", out _);
        Assert.True(result.Success);
        var defaults = new GreylistOptions();
        Assert.Equal(TimeSpan.FromMinutes(10), result.Config.Options.Greylist.Delay);
        Assert.Equal(defaults.RetryWindow, result.Config.Options.Greylist.RetryWindow);
        Assert.Equal(new RelayOptions().AllowClients, result.Config.Options.Relay.AllowClients);
        Assert.Null(result.Config.Options.Relay.LocalUsers);
        Assert.Null(result.Config.Options.Status);
    }

    [Fact]
    public void Relative_socket_and_database_paths_are_resolved_against_the_config_directory()
    {
        var result = _dir.Load("listen: unix:run/milter.sock\ndatabase: sqlite:../milterhost.db\n", out _);
        Assert.True(result.Success);
        Assert.Equal($"unix:{_dir.Path}/run/milter.sock", result.Config.Options.Listen);
        Assert.Equal(ListenFamily.Unix, result.Config.Listen.Family);
        Assert.Equal($"{_dir.Path}/run/milter.sock", result.Config.Listen.Path);
        Assert.Equal($"sqlite:{Path.GetDirectoryName(_dir.Path)}/milterhost.db", result.Config.Options.Database);
    }

    [Fact]
    public void Anchors_and_aliases_share_values()
    {
        var result = _dir.Load("""
            relay:
              allow_clients: &trusted [127.0.0.0/8, 192.0.2.0/24]
            greylist:
              skip:
                clients: *trusted
            """, out _);
        Assert.True(result.Success);
        Assert.Equal(result.Config.Options.Relay.AllowClients, result.Config.Options.Greylist.Skip.Clients);
    }

    [Fact]
    public void Octal_mode_may_be_written_without_quotes_or_leading_zero()
    {
        var result = _dir.Load("socket:\n  mode: 660\n", out _);
        Assert.True(result.Success);
        Assert.Equal("0660", result.Config.Options.Socket.Mode);
        Assert.Equal((UnixFileMode)0b110_110_000, result.Config.SocketMode);
    }
}
