using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.Policy;

/// <summary>
/// <c>mode: monitor</c> at the top level: a ban rule is computed and logged but not applied, while
/// relay control, which the top-level mode leaves enforced, still refuses. sendmail would relay for
/// 127.0.0.40, so a refusal of relaying is milterhost's.
/// </summary>
public sealed class MonitorModeFixture : PolicyFixture
{
    protected override DaemonConfig Config(string sandbox) => new()
    {
        Relay = "{ allow_clients: [127.0.0.1/32] }",
        Ban = ["{ sender: \"*@spammer.example\", reply: \"550 5.7.1 Mail from spammer.example is refused\" }"],
        Extra = "mode: monitor",
    };

    protected override SendmailOptions SendmailOptions(string milterSocket) => base.SendmailOptions(milterSocket) with
    {
        AccessEntries = new Dictionary<string, string> { ["Connect:127.0.0.40"] = "RELAY" },
    };
}

/// <summary>Monitor mode through a real sendmail and the real daemon.</summary>
public sealed class MonitorModeTests(MonitorModeFixture mx) : IClassFixture<MonitorModeFixture>
{
    [Fact]
    public async Task A_banned_sender_is_delivered_and_logged_as_what_would_have_happened()
    {
        var result = await mx.SendAsync("127.0.0.40", "bulk@spammer.example", ["alice@example.com"]);

        Assert.StartsWith("250 2.1.0", result.ReplyTo("MAIL")!.Text, StringComparison.Ordinal);
        Assert.StartsWith("250 2.0.0", result.FinalReply!.Text, StringComparison.Ordinal);
        Assert.Equal(["alice@example.com"], mx.Sendmail.ReadQueuedMessage(result.QueueId!).Recipients);
        var line = await mx.DecisionAsync(l => l.Contains("from=<bulk@spammer.example>", StringComparison.Ordinal));
        Assert.EndsWith(
            $"{result.QueueId}: decision=reject stage=mail client=[127.0.0.40] from=<bulk@spammer.example> filter=ban rule={mx.BanRule(1, "spammer.example")}"
            + " reply=\"550 5.7.1 Mail from spammer.example is refused\" applied=no",
            line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Relay_control_still_refuses_a_foreign_recipient()
    {
        var result = await mx.SendAsync("127.0.0.40", "someone@outside.example", ["x@foreign.example"]);

        Assert.Equal("550 5.7.1 <x@foreign.example>... Relaying denied", result.ReplyTo("RCPT")!.Text);
        Assert.Null(result.QueueId);
        var line = await mx.DecisionAsync(l => l.Contains("to=<x@foreign.example>", StringComparison.Ordinal));
        Assert.EndsWith("stage=rcpt client=[127.0.0.40] from=<someone@outside.example> to=<x@foreign.example> filter=relay rule=relay reply=\"550 5.7.1 Relaying denied\"",
            line, StringComparison.Ordinal);
    }
}
