using System.Text.Json;
using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.RelayTest;

/// <summary>A sendmail that would relay for anyone, with the milterhost daemon in front of it.</summary>
public sealed class GuardedSendmailFixture : SendmailFixture
{
    protected override SendmailOptions CreateOptions(string sandbox) => new()
    {
        PromiscuousRelay = true,
        MilterSocket = $"unix:{Path.Combine(sandbox, "milter.sock")}",
    };
}

/// <summary>The same sendmail with nobody in front of it: an open relay.</summary>
public sealed class OpenSendmailFixture : SendmailFixture
{
    protected override SendmailOptions CreateOptions(string sandbox) => new() { PromiscuousRelay = true };
}

/// <summary>
/// <c>milterhost relay-test</c> (the built binary) from 127.0.0.5, an outside client, against real
/// sendmail. Both sendmails relay for anyone (<c>FEATURE(promiscuous_relay)</c>), so every refusal
/// in the first test is milterhost's doing and the only difference between the two is the milter.
/// </summary>
public sealed class RelayTestTests(GuardedSendmailFixture guarded, OpenSendmailFixture open)
    : IClassFixture<GuardedSendmailFixture>, IClassFixture<OpenSendmailFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    private static Task<(int ExitCode, string StdOut, string StdErr)> RelayTestAsync(int port, params string[] extra) =>
        MilterHostProcess.RunToEndAsync(["relay-test", $"127.0.0.1:{port}", "--source", "127.0.0.5", "--helo", "outside.example.net", .. extra], Bound);

    private static JsonElement[] Attempts(JsonDocument json) => [.. json.RootElement.GetProperty("attempts").EnumerateArray()];

    private static string Rcpt(JsonElement attempt) => attempt.GetProperty("rcptReply")[0].GetString()!;

    [Fact]
    public async Task Sendmail_guarded_by_milterhost_refuses_every_relay_trick_from_outside()
    {
        var sendmail = guarded.Sendmail;
        using var sandbox = new DaemonSandbox("relaytest", sendmail.Directory);
        await using var daemon = await sandbox.StartAsync(new DaemonConfig
        {
            Log = "{ syslog: false }",
            LocalDomains = "[example.com]",
            Relay = "{ allow_clients: [127.0.0.1] }",
        });

        var (exit, stdout, stderr) = await RelayTestAsync(sendmail.Port, "--json");

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        using var json = JsonDocument.Parse(stdout);
        Assert.False(json.RootElement.GetProperty("openRelay").GetBoolean());
        Assert.Equal("mx.example.com", json.RootElement.GetProperty("hostName").GetString());
        Assert.Equal("example.com", json.RootElement.GetProperty("localDomain").GetString());
        Assert.StartsWith("127.0.0.5:", json.RootElement.GetProperty("source").GetString(), StringComparison.Ordinal);
        var attempts = Attempts(json);
        Assert.Equal(19, attempts.Length);
        Assert.All(attempts, a => Assert.Equal("refused", a.GetProperty("verdict").GetString()));
        // sendmail itself refuses only the double-@ addresses it cannot parse; every other refusal is
        // milterhost's relay filter (sendmail puts the address in front of a milter's reply text).
        Assert.All(attempts, a =>
        {
            var to = a.GetProperty("rcptTo").GetString();
            Assert.Equal(a.GetProperty("trick").GetString()!.StartsWith("double at", StringComparison.Ordinal)
                ? $"553 5.1.3 <{to}>... Invalid route address"
                : $"550 5.7.1 <{to}>... Relaying denied", Rcpt(a));
        });
    }

    [Fact]
    public async Task Promiscuous_sendmail_without_a_milter_is_found_to_be_an_open_relay()
    {
        var (exit, stdout, _) = await RelayTestAsync(open.Sendmail.Port);

        Assert.Equal(1, exit);
        Assert.Matches(@"\nforeign sender +<relay-test@example\.net> +<relay-test@example\.org> +250 2\.1\.0 <relay-test@example\.net>\.\.\. Sender ok +"
            + @"250 2\.1\.5 <relay-test@example\.org>\.\.\. Recipient ok +ACCEPTED\n", stdout);
        // All but the two double-@ tricks, which sendmail cannot parse: every one the milter refused in the test above.
        Assert.Contains("\nOPEN RELAY: 17 of 19 foreign recipients were accepted (foreign sender, null sender, local sender, percent hack, ", stdout, StringComparison.Ordinal);
        Assert.Matches(@"\ndouble at +<relay-test@example\.net> +<relay-test@example\.org@example\.com> +250 2\.1\.0 <relay-test@example\.net>\.\.\. Sender ok +"
            + @"553 5\.1\.3 <relay-test@example\.org@example\.com>\.\.\. Invalid route address +refused\n", stdout);
        // Never DATA: nothing reached the queue.
        Assert.Empty(open.Sendmail.ReadQueue());
    }

    [Fact]
    public async Task Port_nobody_listens_on_cannot_be_tested_exit_2()
    {
        var port = FreePort.Next();

        var (exit, stdout, stderr) = await RelayTestAsync(port);

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal($"relay-test: cannot reach 127.0.0.1:{port} from 127.0.0.5: Connection refused\n", stderr);
    }

    [Fact]
    public async Task Mistyped_command_line_exits_2_not_1_which_would_mean_open_relay()
    {
        var (exit, _, stderr) = await MilterHostProcess.RunToEndAsync(["relay-test", "mx.example.com:notaport"], Bound);

        Assert.Equal(2, exit);
        Assert.Contains("'mx.example.com:notaport' is not HOST, HOST:PORT or [IPv6]:PORT", stderr, StringComparison.Ordinal);
    }
}
