using System.CommandLine;
using System.Net;
using System.Text.Json;
using MilterHost.Commands;

namespace MilterHost.Tests.RelayTest;

/// <summary><c>milterhost relay-test</c> in-process against a tiny fake SMTP server on loopback.</summary>
public sealed class RelayTestCommandTests
{
    private const int Tricks = 19;

    private static Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args) =>
        CommandTests.Run(new RootCommand("test") { RelayTestCommand.Create() }, ["relay-test", .. args]);

    private static JsonElement[] Attempts(JsonDocument json) => [.. json.RootElement.GetProperty("attempts").EnumerateArray()];

    [Fact]
    public async Task Closed_server_refuses_every_trick_exit_0_and_no_data_is_ever_sent()
    {
        await using var server = new FakeSmtpServer();

        var (exit, output, error) = await RunAsync(server.Target, "--helo", "probe.example.net");

        Assert.Equal(LoopbackWarning("127.0.0.1"), error);
        Assert.Equal(0, exit);
        var lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal($"Probed {server.Target} (mx.example.com) from 127.0.0.1:", lines[0][..(lines[0].LastIndexOf(':') + 1)]);
        Assert.EndsWith("; local domain example.com.", lines[0], StringComparison.Ordinal);
        Assert.Matches("^TRICK +MAIL FROM +RCPT TO +MAIL REPLY +RCPT REPLY +VERDICT$", lines[1]);
        Assert.Matches(@"^foreign sender +<relay-test@example\.net> +<relay-test@example\.org> +250 2\.1\.0 Sender ok +550 5\.7\.1 Relaying denied +refused$", lines[2]);
        Assert.Equal(Tricks, lines.Length - 3);
        Assert.Equal($"Not an open relay: all {Tricks} foreign recipients were refused.", lines[^1]);
        var commands = server.Commands;
        Assert.Equal("EHLO probe.example.net", commands[0]);
        Assert.Equal("QUIT", commands[^1]);
        Assert.DoesNotContain(commands, c => FakeSmtpServer.Verb(c) == "DATA");
        Assert.Equal(Tricks, commands.Count(c => c == "RSET"));
        Assert.Single(server.Clients);
    }

    [Fact]
    public async Task Server_that_takes_a_foreign_recipient_is_an_open_relay_exit_1()
    {
        await using var server = new FakeSmtpServer(command =>
            command == "RCPT TO:<relay-test@example.org>" ? "250 2.1.5 <relay-test@example.org>... Recipient ok" : FakeSmtpServer.Refusing(command));

        var (exit, output, _) = await RunAsync(server.Target, "--json");

        Assert.Equal(1, exit);
        using var json = JsonDocument.Parse(output);
        Assert.True(json.RootElement.GetProperty("openRelay").GetBoolean());
        Assert.Equal(1, json.RootElement.GetProperty("exitCode").GetInt32());
        var accepted = Attempts(json).Where(a => a.GetProperty("verdict").GetString() == "accepted").Select(a => a.GetProperty("trick").GetString());
        Assert.Equal(["foreign sender", "null sender", "local sender"], accepted);
        var first = Attempts(json)[0];
        Assert.Equal(["250 2.1.5 <relay-test@example.org>... Recipient ok"], first.GetProperty("rcptReply").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(["250 2.1.0 Sender ok"], first.GetProperty("mailReply").EnumerateArray().Select(l => l.GetString()));
    }

    [Fact]
    public async Task Open_relay_text_names_the_tricks_that_got_through()
    {
        await using var server = new FakeSmtpServer(command =>
            command.StartsWith("RCPT TO:<relay-test%", StringComparison.Ordinal) ? "250 ok" : FakeSmtpServer.Refusing(command));

        var (exit, output, _) = await RunAsync(server.Target);

        Assert.Equal(1, exit);
        Assert.EndsWith(
            "OPEN RELAY: 5 of 19 foreign recipients were accepted (percent hack, percent hack, unqualified, percent hack, own name, "
            + "percent hack, IP literal, percent hack, trailing dot).\n",
            output, StringComparison.Ordinal);
        Assert.Matches(@"\npercent hack +<relay-test@example\.net> +<relay-test%example\.org@example\.com> +250 2\.1\.0 Sender ok +250 ok +ACCEPTED\n", output);
    }

    [Fact]
    public async Task Server_that_hangs_up_after_every_recipient_is_reconnected_and_every_trick_tried()
    {
        await using var server = new FakeSmtpServer { CloseAfterRcpt = true };

        var (exit, output, _) = await RunAsync(server.Target, "--json");

        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output);
        Assert.All(Attempts(json), a => Assert.Equal("refused", a.GetProperty("verdict").GetString()));
        Assert.Equal(Tricks, server.Clients.Count);
    }

    [Fact]
    public async Task Temporary_refusals_count_as_refused_but_are_called_inconclusive_for_now()
    {
        await using var server = new FakeSmtpServer(command =>
            FakeSmtpServer.Verb(command) == "RCPT" && command.Contains('%', StringComparison.Ordinal) ? "451 4.7.1 Greylisted" : FakeSmtpServer.Refusing(command));

        var (exit, output, _) = await RunAsync(server.Target);

        Assert.Equal(0, exit);
        Assert.EndsWith(
            "Not an open relay for now: all 19 foreign recipients were refused, 5 only temporarily (4xx); run the test again once that condition has passed.\n",
            output, StringComparison.Ordinal);
        Assert.Matches(@"\npercent hack +.* +451 4\.7\.1 Greylisted +deferred\n", output);
    }

    [Fact]
    public async Task Server_refusing_the_session_cannot_be_tested_exit_2()
    {
        await using var server = new FakeSmtpServer { Greeting = "554 5.7.1 mx.example.com: go away" };

        var (exit, output, error) = await RunAsync(server.Target);

        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Equal($"relay-test: {server.Target} refused the session: 554 5.7.1 mx.example.com: go away\n", error);
    }

    [Fact]
    public async Task Server_without_ehlo_is_greeted_with_helo()
    {
        await using var server = new FakeSmtpServer(command =>
            FakeSmtpServer.Verb(command) == "EHLO" ? "502 5.5.2 Command not implemented" : FakeSmtpServer.Refusing(command));

        var (exit, _, _) = await RunAsync(server.Target, "--helo", "probe.example.net");

        Assert.Equal(0, exit);
        Assert.Equal(["EHLO probe.example.net", "HELO probe.example.net"], server.Commands.Take(2));
    }

    [Fact]
    public async Task Trick_the_server_never_answers_is_not_tried_and_the_run_is_inconclusive_exit_2()
    {
        await using var server = new FakeSmtpServer(command =>
            command == "RCPT TO:<relay-test@example.org.>" ? null : FakeSmtpServer.Refusing(command));

        var (exit, output, _) = await RunAsync(server.Target, "--timeout", "300ms", "--json");

        Assert.Equal(2, exit);
        using var json = JsonDocument.Parse(output);
        var stuck = Assert.Single(Attempts(json), a => a.GetProperty("verdict").GetString() == "not tried");
        Assert.Equal("trailing dot", stuck.GetProperty("trick").GetString());
        Assert.Equal("no reply within 300ms", stuck.GetProperty("note").GetString());
        Assert.Equal(JsonValueKind.Null, stuck.GetProperty("rcptReply").ValueKind);
        Assert.Equal(Tricks - 1, Attempts(json).Count(a => a.GetProperty("verdict").GetString() == "refused"));
    }

    [Fact]
    public async Task Source_address_and_local_domain_are_used_and_verbose_shows_the_transcript()
    {
        await using var server = new FakeSmtpServer();

        var (exit, output, _) = await RunAsync(server.Target, "--source", "127.0.0.5", "--local-domain", "example.net", "--to", "x@victim.example", "-v");

        Assert.Equal(0, exit);
        Assert.Equal([IPAddress.Parse("127.0.0.5")], server.Clients);
        Assert.Contains(server.Commands, c => c == "RCPT TO:<x%victim.example@example.net>");
        Assert.StartsWith($"*** connected to {server.Target} from 127.0.0.5:", output, StringComparison.Ordinal);
        Assert.Contains("\n<<< 220 mx.example.com ESMTP fake\n>>> EHLO ", output, StringComparison.Ordinal);
        Assert.Contains("\n>>> RCPT TO:<x@victim.example>\n<<< 550 5.7.1 Relaying denied\n>>> RSET\n<<< 250 2.0.0 Reset state\n", output, StringComparison.Ordinal);
        Assert.Contains("\n>>> QUIT\n<<< 221 2.0.0 closing connection\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_from_a_loopback_source_warns_even_when_the_server_looks_open()
    {
        await using var server = new FakeSmtpServer(command =>
            command.StartsWith("RCPT", StringComparison.Ordinal) ? "250 2.1.5 Recipient ok" : FakeSmtpServer.Refusing(command));

        var (exit, output, error) = await RunAsync(server.Target, "--source", "127.0.0.5", "--json");

        Assert.Equal(1, exit);
        Assert.Equal(LoopbackWarning("127.0.0.5"), error);
        using var json = JsonDocument.Parse(output);
        Assert.True(json.RootElement.GetProperty("openRelay").GetBoolean());
    }

    private static string LoopbackWarning(string source) =>
        $"relay-test: warning: the probe came from {source} is a loopback address, which the server trusts (milterhost's default "
        + "relay.allow_clients and sendmail let loopback relay), so \"open relay\" below proves nothing; "
        + "run relay-test from another machine (copy the milterhost binary there)\n";

    [Fact]
    public async Task Verbose_json_carries_the_transcript_inside_the_document()
    {
        await using var server = new FakeSmtpServer();

        var (_, output, _) = await RunAsync(server.Target, "-v", "--json");

        using var json = JsonDocument.Parse(output);
        var transcript = json.RootElement.GetProperty("transcript").EnumerateArray().Select(l => l.GetString()).ToList();
        Assert.Equal("<<< 220 mx.example.com ESMTP fake", transcript[1]);
        Assert.Equal("mx.example.com", json.RootElement.GetProperty("hostName").GetString());
        Assert.Equal("example.com", json.RootElement.GetProperty("localDomain").GetString());
    }

    [Theory]
    [InlineData(new[] { "--to", "no-at-sign" }, "--to: 'no-at-sign' is not an address (user@domain)")]
    [InlineData(new[] { "--source", "mx.example.com" }, "--source: 'mx.example.com' is not an IP address")]
    [InlineData(new[] { "--local-domain", "bad domain" }, "--local-domain: 'bad domain' is not a domain name")]
    public async Task Bad_options_are_refused_before_connecting(string[] arguments, string message)
    {
        await using var server = new FakeSmtpServer();

        var (exit, _, error) = await RunAsync([server.Target, .. arguments]);

        Assert.NotEqual(0, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Empty(server.Clients);
    }

    [Fact]
    public async Task A_mail_from_the_server_does_not_take_means_no_recipient_was_tested_and_is_no_all_clear()
    {
        // A server that greylists/defers at MAIL: RCPT is then answered 503 (no MAIL given), which says nothing about relaying.
        await using var server = new FakeSmtpServer(command => FakeSmtpServer.Verb(command) switch
        {
            "MAIL" => "451 4.3.2 Please try again later",
            "RCPT" => "503 5.5.1 Need MAIL before RCPT",
            _ => FakeSmtpServer.Refusing(command),
        });

        var (exit, output, _) = await RunAsync(server.Target, "--json");

        using var json = JsonDocument.Parse(output);
        var verdicts = json.RootElement.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("verdict").GetString()).ToList();
        Assert.DoesNotContain("refused", verdicts);
        Assert.Equal(2, exit); // inconclusive
    }
}
