using System.Text.RegularExpressions;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>A sendmail whose milter socket is in its sandbox, for the daemon to listen on.</summary>
public sealed class DaemonSendmailFixture : SendmailFixture
{
    protected override SendmailOptions CreateOptions(string sandbox) =>
        new() { MilterSocket = $"unix:{Path.Combine(sandbox, "milter.sock")}" };
}

/// <summary>
/// Real sendmail wired to the real daemon, both logging to one syslog: each refusal is one
/// decision line beside sendmail's own lines, under the same queue id.
/// </summary>
public sealed class DaemonSyslogTests(DaemonSendmailFixture fixture) : IClassFixture<DaemonSendmailFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_refused_recipient_is_one_decision_line_in_the_maillog_beside_sendmails()
    {
        var sendmail = fixture.Sendmail;
        using var sandbox = new DaemonSandbox("syslog", sendmail.Directory);
        await using var daemon = await sandbox.StartAsync(
            new DaemonConfig
            {
                Log = "{ level: info, syslog: true }",
                Ban = ["{ recipient: bob@example.com, reply: \"550 5.7.1 Bob takes no mail here\" }"],
            },
            sendmail.Log);

        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = sendmail.Port, From = "someone@remote.example", To = ["alice@example.com", "bob@example.com"], QuitAfter = "RCPT",
        });
        Assert.Equal("550 5.7.1 <bob@example.com>... Bob takes no mail here", result.RepliesTo("RCPT")[1].Text);

        var mine = await sendmail.Log.WaitForLineAsync(l => l.Contains($" milterhost[{daemon.Pid}]: ", StringComparison.Ordinal) && l.Contains(" decision=", StringComparison.Ordinal), Bound);
        var ruleLine = Array.FindIndex(File.ReadAllLines(sandbox.ConfigPath), l => l.Contains("recipient: bob@example.com", StringComparison.Ordinal)) + 1;
        var match = Regex.Match(mine,
            $@"^\w{{3}} [ \d]\d \d\d:\d\d:\d\d \S+ milterhost\[{daemon.Pid}\]: (?<qid>\w{{14}}): decision=reject stage=rcpt client=localhost \[127\.0\.0\.1\] "
            + $@"from=<someone@remote\.example> to=<bob@example\.com> filter=ban rule=""ban#1 \(line {ruleLine}\)"" reply=""550 5\.7\.1 Bob takes no mail here""$");
        Assert.True(match.Success, mine);
        var queueId = match.Groups["qid"].Value;
        await sendmail.Log.WaitForLineAsync(l => l.Contains($" sendmail[", StringComparison.Ordinal)
            && l.EndsWith($": {queueId}: Milter: to=<bob@example.com>, reject=550 5.7.1 Bob takes no mail here", StringComparison.Ordinal), Bound);
        // The accepted recipient is no decision worth a line at level info; the refusal is exactly one.
        Assert.Single(sendmail.Log.Lines, l => l.Contains(" decision=", StringComparison.Ordinal));

        // logscan reads this maillog back: the refusal, logged by both, is one event of the client.
        var maillog = Path.Combine(sandbox.Directory, "maillog");
        await File.WriteAllLinesAsync(maillog, sendmail.Log.Lines.ToArray());
        var (exit, stdout, stderr) = await MilterHostProcess.RunToEndAsync(
            ["logscan", "--log", maillog, "--since", "1h", "--threshold", "1", "--json", "--config", sandbox.ConfigPath]);
        Assert.Equal((0, ""), (exit, stderr));
        using var report = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal(1, report.RootElement.GetProperty("duplicates").GetInt32());
        Assert.Equal(0, report.RootElement.GetProperty("ambiguous").GetInt32());
        var client = Assert.Single(report.RootElement.GetProperty("exempt").EnumerateArray());
        Assert.Equal(("127.0.0.1", 1), (client.GetProperty("ip").GetString(), client.GetProperty("count").GetInt32()));
    }
}
