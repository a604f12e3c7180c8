using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.TestSupport;
using MilterHost.Commands;

namespace MilterHost.Tests;

/// <summary>
/// <c>milterhost simulate</c> in-process on a real config and a real SQLite store: the chain
/// behind the real protocol session, driven by the real MTA-side client.
/// </summary>
public sealed class SimulateTests : IDisposable
{
    private readonly ConfigDirectory _dir = new();

    public SimulateTests()
    {
        _dir.Write("aliases", "# milterhost's own view of the local users\npostmaster: root\nalice: root\nbob: alice\n");
    }

    public void Dispose() => _dir.Dispose();

    private string Database => Path.Combine(_dir.Path, "milterhost.db");

    // The greylist configs set spf_pools: false: the triplet is keyed by the client network, no DNS asked.
    private string WriteConfig(string greylist = "{ enabled: false }", string mode = "enforce") => _dir.Write("milterhost.yaml", $"""
        mode: {mode}
        listen: unix:milter.sock
        database: sqlite:milterhost.db
        local_domains: [example.com]
        relay: {"{"} allow_clients: [192.0.2.0/24] {"}"}
        recipients: {"{"} reject_unknown: true, sources: ["aliases:aliases"] {"}"}
        ban:
          - sender: "*@spammer.example"
            reply: "550 5.7.1 No mail from spammer.example"
        greylist: {greylist}
        dns: {"{"} servers: ["127.0.0.1:9"], timeout: 500ms {"}"}
        """);

    [Fact]
    public async Task A_relay_attempt_from_outside_is_refused_for_the_foreign_recipient_only()
    {
        var config = WriteConfig();
        var (exit, stdout, stderr) = await Simulate(config, "--client", "203.0.113.9", "--helo", "mx.outside.example",
            "--from", "someone@outside.example", "--to", "x@foreign.example", "alice@example.com", "--subject", "hello");

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        Assert.Equal(
            $"""
            client 203.0.113.9 (no name: unresolved), helo mx.outside.example, from <someone@outside.example>
            config {config}; database sqlite:{Database} (read-only: nothing is written; --record writes what a delivery would)
            note: {Database} does not exist yet; simulated against an empty store

            STAGE    INPUT                      VERDICT   REPLY                      FILTER  RULE
            connect  [203.0.113.9]              continue
            helo     mx.outside.example         continue
            mail     <someone@outside.example>  continue
            rcpt     <x@foreign.example>        reject    550 5.7.1 Relaying denied  relay   relay
            rcpt     <alice@example.com>        continue
            data                                not sent
            header   Subject: hello             not sent
            eoh                                 not sent
            eom                                 continue

            outcome: accepted for <alice@example.com>

            """,
            stdout);
        // Without --record a store that did not exist is not created either.
        Assert.False(File.Exists(Database));
    }

    [Fact]
    public async Task A_banned_sender_is_refused_at_MAIL_with_the_configured_reply_and_rule()
    {
        var stages = (await SimulateJson(WriteConfig(), "--client", "203.0.113.9", "--from", "bulk@spammer.example", "--to", "alice@example.com"))
            .GetProperty("stages");

        Assert.Equal(["connect continue", "helo continue", "mail reject"], Rows(stages));
        var mail = stages[2];
        Assert.Equal("550 5.7.1 No mail from spammer.example", mail.GetProperty("reply").GetString());
        Assert.Equal("ban", mail.GetProperty("filter").GetString());
        Assert.Equal("ban#1 (line 8)", mail.GetProperty("rule").GetString());
    }

    [Fact]
    public async Task In_monitor_mode_it_shows_what_would_happen_and_what_is_applied()
    {
        var config = WriteConfig(mode: "monitor");
        var (exit, stdout, stderr) = await Simulate(config, "--client", "203.0.113.9", "--helo", "mx.outside.example",
            "--from", "bulk@spammer.example", "--to", "x@foreign.example", "ghost@example.com", "alice@example.com");
        var json = await SimulateJson(config, "--client", "203.0.113.9", "--from", "bulk@spammer.example", "--to", "x@foreign.example", "alice@example.com");

        Assert.Equal((0, ""), (exit, stderr));
        // Relay control stays enforced; the ban and the unknown recipient are only logged.
        var lines = stdout.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("mail ", StringComparison.Ordinal) && l.Contains("reject (monitor, not applied)", StringComparison.Ordinal)
            && l.Contains("550 5.7.1 No mail from spammer.example", StringComparison.Ordinal) && l.Contains("ban#1 (line 8)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("mail ", StringComparison.Ordinal) && l.Contains(" continue", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("rcpt ", StringComparison.Ordinal) && l.Contains("<x@foreign.example>", StringComparison.Ordinal)
            && l.Contains(" reject ", StringComparison.Ordinal) && l.Contains("Relaying denied", StringComparison.Ordinal) && !l.Contains("monitor", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("rcpt ", StringComparison.Ordinal) && l.Contains("<ghost@example.com>", StringComparison.Ordinal)
            && l.Contains("reject (monitor, not applied)", StringComparison.Ordinal) && l.Contains("User unknown", StringComparison.Ordinal));
        Assert.Contains("outcome: accepted for <ghost@example.com>, <alice@example.com>", stdout, StringComparison.Ordinal);

        var mail = json.GetProperty("stages")[2];
        Assert.Equal(("mail", "continue"), (mail.GetProperty("stage").GetString(), mail.GetProperty("verdict").GetString()));
        var would = Assert.Single(mail.GetProperty("notApplied").EnumerateArray().ToList());
        Assert.Equal(("reject", "ban", "ban#1 (line 8)", "monitor"),
            (would.GetProperty("verdict").GetString(), would.GetProperty("filter").GetString(), would.GetProperty("rule").GetString(), would.GetProperty("mode").GetString()));
        Assert.Equal("accept", json.GetProperty("outcome").GetProperty("verdict").GetString());
    }

    [Fact]
    public async Task An_unknown_recipient_is_refused_while_a_known_one_is_accepted()
    {
        var root = await SimulateJson(WriteConfig(), "--client", "192.0.2.7", "--from", "colleague@example.com",
            "--to", "ghost@example.com", "Bob+lists@Example.COM");

        var rcpts = root.GetProperty("stages").EnumerateArray().Where(s => s.GetProperty("stage").GetString() == "rcpt").ToList();
        Assert.Equal("550 5.1.1 User unknown", rcpts[0].GetProperty("reply").GetString());
        Assert.Equal("recipients", rcpts[0].GetProperty("filter").GetString());
        Assert.Equal("continue", rcpts[1].GetProperty("verdict").GetString());
        Assert.Equal("accept", root.GetProperty("outcome").GetProperty("verdict").GetString());
        Assert.Equal(["Bob+lists@Example.COM"], Strings(root.GetProperty("outcome").GetProperty("acceptedRecipients")));
    }

    [Fact]
    public async Task A_recipient_discarded_by_a_ban_rule_is_dropped_from_the_envelope_and_its_colleague_still_gets_the_message()
    {
        var config = WriteConfig();
        File.WriteAllText(config, File.ReadAllText(config).Replace("ban:\n", "ban:\n  - recipient: bob@example.com\n    action: discard\n", StringComparison.Ordinal));

        var root = await SimulateJson(config, "--client", "192.0.2.7", "--from", "colleague@example.com", "--to", "bob@example.com", "alice@example.com");
        var alone = await SimulateJson(config, "--client", "192.0.2.7", "--from", "colleague@example.com", "--to", "bob@example.com");

        Assert.Equal("accept", root.GetProperty("outcome").GetProperty("verdict").GetString());
        Assert.Equal(["alice@example.com"], Strings(root.GetProperty("outcome").GetProperty("acceptedRecipients")));
        Assert.Equal("discard", alone.GetProperty("outcome").GetProperty("verdict").GetString());
    }

    [Fact]
    public async Task A_greylisted_first_attempt_stays_new_without_record_and_is_stored_with_it()
    {
        var config = WriteConfig("{ enabled: true, delay: 2m, per_message: true, spf_pools: false }");
        await (await StoreFactory.OpenAsync("sqlite:" + Database, TimeProvider.System)).DisposeAsync();
        string[] attempt = ["--client", "203.0.113.9", "--from", "news@outside.example", "--to", "alice@example.com"];

        foreach (var _ in new[] { 1, 2 })
        {
            var data = Stage(await SimulateJson(config, attempt), "data");
            Assert.Equal("451 4.7.1 Greylisted, please retry in 120 seconds", data.GetProperty("reply").GetString());
            Assert.Equal("greylist:new", data.GetProperty("rule").GetString());
        }
        Assert.Empty(await TripletsAsync());

        var recorded = await SimulateJson(config, [.. attempt, "--record"]);
        Assert.True(recorded.GetProperty("recorded").GetBoolean());
        Assert.Equal("greylist:new", Stage(recorded, "data").GetProperty("rule").GetString());
        var triplet = Assert.Single(await TripletsAsync()).Triplet;
        Assert.Equal(("net:203.0.113.0/24", "news@outside.example", "alice@example.com"), (triplet.Client, triplet.Sender, triplet.Recipient));

        // The recorded first attempt is what the next one is measured against.
        Assert.Equal("greylist:early", Stage(await SimulateJson(config, attempt), "data").GetProperty("rule").GetString());
    }

    [Fact]
    public async Task A_recorded_attempt_retried_after_the_delay_passes()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2025-03-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var config = WriteConfig("{ enabled: true, delay: 2m, per_message: true, spf_pools: false }");
        string[] attempt = ["--config", config, "--client", "203.0.113.9", "--from", "news@outside.example", "--to", "alice@example.com", "--json"];
        await CommandTests.Run(new RootCommand { SimulateCommand.Create(time) }, ["simulate", .. attempt, "--record"]);

        time.Advance(TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(1));
        var (exit, stdout, stderr) = await CommandTests.Run(new RootCommand { SimulateCommand.Create(time) }, ["simulate", .. attempt]);

        Assert.Equal((0, ""), (exit, stderr));
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("continue", Stage(root, "data").GetProperty("verdict").GetString());
        Assert.Equal("accept", root.GetProperty("outcome").GetProperty("verdict").GetString());
    }

    [Fact]
    public async Task Without_per_message_the_first_attempt_is_deferred_at_RCPT()
    {
        var root = await SimulateJson(WriteConfig("{ enabled: true, delay: 90s, per_message: false, spf_pools: false }"),
            "--client", "2001:db8::25", "--from", "news@outside.example", "--to", "alice@example.com");

        var rcpt = Stage(root, "rcpt");
        Assert.Equal("tempfail", rcpt.GetProperty("verdict").GetString());
        Assert.Equal("451 4.7.1 Greylisted, please retry in 90 seconds", rcpt.GetProperty("reply").GetString());
        Assert.Equal("greylist:new", rcpt.GetProperty("rule").GetString());
        Assert.Equal("[IPv6:2001:db8::25]", Stage(root, "connect").GetProperty("input").GetString());
        Assert.Equal("tempfail", root.GetProperty("outcome").GetProperty("verdict").GetString());
    }

    [Fact]
    public async Task The_DNS_facts_that_decided_are_printed()
    {
        await using var dns = await PrivateDns.StartAsync(new PrivateDnsRecords()
            .Txt("pool.example", "v=spf1 ip4:198.51.100.0/24 -all")
            .Ptr("198.51.100.7", "mail7.pool.example")
            .A("mail7.pool.example", "198.51.100.7"));
        var config = _dir.Write("milterhost.yaml", $$"""
            listen: unix:milter.sock
            database: sqlite:milterhost.db
            local_domains: [example.com]
            recipients: { reject_unknown: true, sources: ["aliases:aliases"] }
            greylist: { spf_pools: true, only_suspicious: true }
            dns: { servers: ["{{dns.Server}}"], timeout: 1s }
            """);

        var (exit, stdout, stderr) = await Simulate(config, "--client", "198.51.100.7", "--from", "news@pool.example", "--to", "alice@example.com");

        // A first attempt: deferred (exit 3).
        Assert.Equal(3, exit);
        Assert.Contains("\noutcome: tempfail at data: 451 4.7.1 Greylisted, please retry in 120 seconds\n", stdout, StringComparison.Ordinal);
        Assert.Contains("dns: spf: pass (pool.example)", stdout, StringComparison.Ordinal);
        Assert.Contains("dns: reverse dns: mail7.pool.example (forward-confirmed)", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_output_has_the_request_every_stage_and_the_outcome()
    {
        var root = await SimulateJson(WriteConfig(), "--client", "192.0.2.7", "--client-name", "pc7.office.example", "--helo", "pc7",
            "--from", "<>", "--to", "<x@foreign.example>", "--subject", "=?utf-8?q?caf=C3=A9?=", "--auth", "jo");

        Assert.Equal(["config", "database", "recorded", "notes", "request", "stages", "dns", "outcome"], Names(root));
        var request = root.GetProperty("request");
        Assert.Equal(["client", "clientName", "helo", "from", "to", "subject", "auth"], Names(request));
        Assert.Equal(("192.0.2.7", "pc7.office.example", "pc7", "", "jo"),
            (request.GetProperty("client").GetString(), request.GetProperty("clientName").GetString(), request.GetProperty("helo").GetString(),
                request.GetProperty("from").GetString(), request.GetProperty("auth").GetString()));
        Assert.Equal(["x@foreign.example"], Strings(request.GetProperty("to")));
        foreach (var stage in root.GetProperty("stages").EnumerateArray())
            Assert.Equal(["stage", "input", "recipient", "sent", "verdict", "reply", "filter", "rule", "notApplied"], Names(stage));
        Assert.Equal(["connect", "helo", "mail", "rcpt", "data", "header", "eoh", "eom"],
            root.GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("stage").GetString()!));
        Assert.Equal("pc7.office.example [192.0.2.7]", Stage(root, "connect").GetProperty("input").GetString());
        Assert.Equal("<>", Stage(root, "mail").GetProperty("input").GetString());
        Assert.Equal("x@foreign.example", Stage(root, "rcpt").GetProperty("recipient").GetString());
        Assert.Equal(JsonValueKind.Null, Stage(root, "rcpt").GetProperty("reply").ValueKind);
        Assert.Equal(["verdict", "stage", "reply", "acceptedRecipients"], Names(root.GetProperty("outcome")));
        Assert.Equal("eom", root.GetProperty("outcome").GetProperty("stage").GetString());
    }

    [Theory]
    [InlineData("[relay, ban, recipients, greylist]", "ban", "550 5.7.1 No mail to ghost")]
    [InlineData("[relay, recipients, ban, greylist]", "recipients", "550 5.1.1 User unknown")]
    public async Task The_filters_key_sets_which_filter_decides_a_recipient_that_is_both_banned_and_unknown(string filters, string filter, string reply)
    {
        var config = _dir.Write("milterhost.yaml", $"""
            database: sqlite:milterhost.db
            local_domains: [example.com]
            recipients: {"{"} reject_unknown: true, sources: ["aliases:aliases"] {"}"}
            ban:
              - recipient: ghost@example.com
                reply: "550 5.7.1 No mail to ghost"
            greylist: {"{"} enabled: false {"}"}
            filters: {filters}
            """);

        var rcpt = Stage(await SimulateJson(config, "--client", "203.0.113.9", "--from", "someone@outside.example", "--to", "ghost@example.com"), "rcpt");

        Assert.Equal(("reject", filter, reply),
            (rcpt.GetProperty("verdict").GetString(), rcpt.GetProperty("filter").GetString(), rcpt.GetProperty("reply").GetString()));
    }

    [Fact]
    public async Task A_filter_left_out_of_the_filters_key_is_off()
    {
        var config = _dir.Write("milterhost.yaml", """
            database: sqlite:milterhost.db
            local_domains: [example.com]
            recipients: { reject_unknown: true, sources: ["aliases:aliases"] }
            greylist: { enabled: false }
            filters: [relay, ban]
            """);

        var root = await SimulateJson(config, "--client", "203.0.113.9", "--from", "someone@outside.example", "--to", "ghost@example.com");

        Assert.Equal("continue", Stage(root, "rcpt").GetProperty("verdict").GetString());
        Assert.Equal("accept", root.GetProperty("outcome").GetProperty("verdict").GetString());
    }

    [Fact]
    public async Task A_bad_client_address_is_a_usage_error()
    {
        var (exit, stdout, stderr) = await Simulate(WriteConfig(), "--client", "203.0.113.0/24", "--from", "a@b.example", "--to", "alice@example.com");

        Assert.Equal(1, exit);
        Assert.DoesNotContain("outcome:", stdout, StringComparison.Ordinal);
        Assert.StartsWith("--client '203.0.113.0/24' is not an IP address (write 203.0.113.9 or 2001:db8::1).\n", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_built_binary_simulates_a_banned_sender()
    {
        var (exit, stdout, stderr) = await MilterHostProcess.RunToEndAsync(
            ["simulate", "--config", WriteConfig(), "--client", "203.0.113.9", "--from", "bulk@spammer.example", "--to", "alice@example.com"]);

        Assert.Equal("", stderr);
        Assert.Equal(2, exit);
        Assert.Contains("\nmail     <bulk@spammer.example>  reject    550 5.7.1 No mail from spammer.example  ban     ban#1 (line 8)\n", stdout, StringComparison.Ordinal);
        Assert.EndsWith("\noutcome: reject at mail: 550 5.7.1 No mail from spammer.example\n", stdout, StringComparison.Ordinal);
    }

    private async Task<IReadOnlyList<TripletEntry>> TripletsAsync()
    {
        await using var stores = await StoreFactory.OpenAsync("sqlite:" + Database, TimeProvider.System);
        return await stores.Greylist.Admin.ListTripletsAsync(new GreylistQuery(), DateTimeOffset.UtcNow, CancellationToken.None);
    }

    private static async Task<JsonElement> SimulateJson(string config, params string[] args)
    {
        var (exit, stdout, stderr) = await Simulate(config, [.. args, "--json"]);
        var root = JsonDocument.Parse(stdout).RootElement;
        // The exit status tells a script how the message ended.
        var ended = root.GetProperty("outcome").GetProperty("verdict").GetString();
        Assert.Equal((ended switch { "reject" => 2, "tempfail" => 3, "discard" => 4, _ => 0 }, ""), (exit, stderr));
        return root;
    }

    private static JsonElement Stage(JsonElement root, string stage) =>
        root.GetProperty("stages").EnumerateArray().Single(s => s.GetProperty("stage").GetString() == stage);

    private static IEnumerable<string> Rows(JsonElement stages) =>
        stages.EnumerateArray().Select(s => $"{s.GetProperty("stage").GetString()} {s.GetProperty("verdict").GetString()}");

    private static IEnumerable<string> Names(JsonElement element) => element.EnumerateObject().Select(p => p.Name);

    private static IEnumerable<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!);

    private static async Task<(int Exit, string Stdout, string Stderr)> Simulate(string config, params string[] args) =>
        await CommandTests.Run(new RootCommand { SimulateCommand.Create() }, ["simulate", "--config", config, .. args]);
}
