using System.Net;
using EndToEnd.Tests.Daemon;
using EndToEnd.Tests.Policy;
using Milter.TestSupport;

namespace EndToEnd.Tests.Hostile;

/// <summary>A real sendmail in front of the real daemon, logging at debug so every session's end shows.</summary>
public sealed class SendmailSideFixture : PolicyFixture
{
    protected override string LogLevel => "debug";

    protected override DaemonConfig Config(string sandbox) => new();
}

/// <summary>
/// What the sendmail side does to a milter session when things go wrong: its per-connection process
/// killed in the middle of a message, or an SMTP client that hangs up after RCPT. Either way the
/// daemon must end that one session quietly, hold nothing for it afterwards, and serve the next.
/// </summary>
public sealed class SendmailSideTests(SendmailSideFixture mx) : IClassFixture<SendmailSideFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Sendmail_killed_in_the_middle_of_a_message_ends_that_session_and_the_next_message_passes()
    {
        var baseline = await WarmBaselineAsync();
        var wentAway = CountDaemonLines("the MTA went away");

        await using (var smtp = await SmtpScript.ConnectAsync(mx.Sendmail.Endpoint, IPAddress.Parse("127.0.0.5")))
        {
            await smtp.EhloAsync();
            Assert.Equal(250, (await smtp.MailFromAsync("someone@outside.example")).Code);
            Assert.Equal(250, (await smtp.RcptToAsync("alice@example.com")).Code);
            Assert.Equal(354, (await smtp.SendAsync("DATA")).Code);
            await smtp.WriteAsync("Subject: cut off\r\n\r\nhalf a body, and then sendmail dies\r\n");

            var child = Assert.Single(mx.Sendmail.SessionProcesses("127.0.0.5"));
            ProcessSignals.Send("KILL", child);
        }

        // The kernel closes the dead process's milter socket: the daemon sees the MTA vanish mid-session.
        await WaitUntilAsync(() => CountDaemonLines("the MTA went away") == wentAway + 1, "the daemon never noticed the MTA go");
        await AssertDaemonHoldsNothingAsync(baseline);
        await AssertNextMessagePassesAsync();
        Assert.Equal(wentAway + 1, CountDaemonLines("the MTA went away"));
        AssertNoWarningsOrErrors();
    }

    [Fact]
    public async Task A_client_that_hangs_up_after_RCPT_ends_the_milter_session_cleanly()
    {
        var baseline = await WarmBaselineAsync();
        var wentAway = CountDaemonLines("the MTA went away");

        await using (var smtp = await SmtpScript.ConnectAsync(mx.Sendmail.Endpoint, IPAddress.Parse("127.0.0.6")))
        {
            await smtp.EhloAsync();
            Assert.Equal(250, (await smtp.MailFromAsync("someone@outside.example")).Code);
            Assert.Equal(250, (await smtp.RcptToAsync("alice@example.com")).Code);
        } // closed without DATA or QUIT

        await mx.Sendmail.Log.WaitForLineAsync(l => l.Contains("lost input channel from", StringComparison.Ordinal)
            && l.Contains("[127.0.0.6]", StringComparison.Ordinal) && l.Contains("after rcpt", StringComparison.Ordinal), Bound);
        await AssertDaemonHoldsNothingAsync(baseline);
        await AssertNextMessagePassesAsync();
        // sendmail closes its milter sessions properly (QUIT) when its client goes: nothing abrupt to report.
        Assert.Equal(wentAway, CountDaemonLines("the MTA went away"));
        AssertNoWarningsOrErrors();
    }

    /// <summary>The daemon's descriptors once a first message has opened everything it keeps open.</summary>
    private async Task<int> WarmBaselineAsync()
    {
        await AssertNextMessagePassesAsync();
        await Task.Delay(500); // sendmail's milter connection for that message closes just after QUIT
        return ProcessStats.Sample(mx.Daemon.Pid).OpenFds;
    }

    private async Task AssertDaemonHoldsNothingAsync(int baselineFds)
    {
        Assert.False(mx.Daemon.HasExited);
        await WaitUntilAsync(() => ProcessStats.Sample(mx.Daemon.Pid).OpenFds <= baselineFds,
            $"the daemon still holds more than its {baselineFds} descriptors: {ProcessStats.Sample(mx.Daemon.Pid)}");
    }

    private async Task AssertNextMessagePassesAsync()
    {
        var result = await mx.SendAsync("127.0.0.7", "next@outside.example", ["bob@example.com"]);
        Assert.StartsWith("250 2.0.0", result.FinalReply?.Text ?? result.ToString(), StringComparison.Ordinal);
        Assert.Equal(["bob@example.com"], mx.Sendmail.ReadQueuedMessage(result.QueueId!).Recipients);
    }

    private int CountDaemonLines(string text) =>
        mx.Sendmail.Log.Lines.Count(l => l.Contains($" milterhost[{mx.Daemon.Pid}]: ", StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal));

    private void AssertNoWarningsOrErrors()
    {
        string[] bad = ["closed for bad input", "the filter failed", "the filter took longer", "unexpected failure", "accept failed"];
        var lines = mx.Sendmail.Log.Lines.Where(l => l.Contains($" milterhost[{mx.Daemon.Pid}]: ", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(lines, l => bad.Any(b => l.Contains(b, StringComparison.OrdinalIgnoreCase)));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string failure)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Bound, failure);
            await Task.Delay(100);
        }
    }
}
