using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.Policy;

/// <summary>
/// milterhost checks recipients against its own aliases file and relays only for 127.0.0.6;
/// sendmail knows one more user ("ghost") and would relay for 127.0.0.5 and 127.0.0.6 alike, so
/// every refusal seen here is milterhost's.
/// </summary>
public sealed class RecipientsAndRelayFixture : PolicyFixture
{
    protected override DaemonConfig Config(string sandbox) => new()
    {
        Relay = "{ allow_clients: [127.0.0.1/32, 127.0.0.6/32] }",
        Recipients = $"{{ reject_unknown: true, sources: [\"aliases:{Path.Combine(sandbox, "milterhost-aliases")}\"] }}",
    };

    protected override void WriteFiles(string sandbox) =>
        File.WriteAllText(Path.Combine(sandbox, "milterhost-aliases"), "# who milterhost knows\npostmaster: root\nalice: root\nbob: root\n");

    protected override SendmailOptions SendmailOptions(string milterSocket) => base.SendmailOptions(milterSocket) with
    {
        Aliases = SendmailAliasesWith("ghost"),
        AccessEntries = new Dictionary<string, string> { ["Connect:127.0.0.5"] = "RELAY", ["Connect:127.0.0.6"] = "RELAY" },
    };
}

/// <summary>Unknown recipients and relay control through a real sendmail.</summary>
public sealed class RecipientsAndRelayTests(RecipientsAndRelayFixture mx) : IClassFixture<RecipientsAndRelayFixture>
{
    [Fact]
    public async Task An_unknown_recipient_is_refused_while_a_known_one_on_the_same_message_is_accepted()
    {
        var result = await mx.SendAsync("127.0.0.5", "someone@outside.example", ["ghost@example.com", "alice@example.com"]);

        var rcpt = result.RepliesTo("RCPT");
        Assert.Equal("550 5.1.1 <ghost@example.com>... User unknown", rcpt[0].Text);
        Assert.Equal("250 2.1.5 <alice@example.com>... Recipient ok", rcpt[1].Text);
        Assert.Equal(["alice@example.com"], mx.Sendmail.ReadQueuedMessage(result.QueueId!).Recipients);
        await mx.DecisionAsync(l => l.Contains(
            "stage=rcpt client=[127.0.0.5] from=<someone@outside.example> to=<ghost@example.com> filter=recipients rule=recipients reply=\"550 5.1.1 User unknown\"",
            StringComparison.Ordinal));
    }

    [Fact]
    public async Task Relay_to_a_foreign_domain_is_refused_from_an_outside_client()
    {
        var result = await mx.SendAsync("127.0.0.5", "someone@outside.example", ["x@foreign.example"]);

        Assert.Equal("550 5.7.1 <x@foreign.example>... Relaying denied", result.ReplyTo("RCPT")!.Text);
        Assert.Null(result.QueueId);
        await mx.DecisionAsync(l => l.Contains(
            "stage=rcpt client=[127.0.0.5] from=<someone@outside.example> to=<x@foreign.example> filter=relay rule=relay reply=\"550 5.7.1 Relaying denied\"",
            StringComparison.Ordinal));
    }

    [Fact]
    public async Task Relay_to_a_foreign_domain_is_allowed_from_an_allowed_client()
    {
        var result = await mx.SendAsync("127.0.0.6", "someone@example.com", ["x@foreign.example"]);

        Assert.Equal("250 2.1.5 <x@foreign.example>... Recipient ok", result.ReplyTo("RCPT")!.Text);
        Assert.Equal(["x@foreign.example"], mx.Sendmail.ReadQueuedMessage(result.QueueId!).Recipients);
    }

    [Theory]
    [InlineData("x%foreign.example@example.com")]
    [InlineData("\"x@foreign.example\"@example.com")]
    [InlineData("foreign.example!x@example.com")]
    [InlineData("@example.com:x@foreign.example")]
    [InlineData("x@Foreign.Example.")]
    public async Task A_relay_trick_through_a_local_domain_is_refused_from_an_outside_client(string recipient)
    {
        var result = await mx.SendAsync("127.0.0.5", "someone@outside.example", [recipient], quitAfter: "RCPT");

        Assert.Equal($"550 5.7.1 <{recipient}>... Relaying denied", result.ReplyTo("RCPT")!.Text);
        // A value with a quote is written in quotes, its own quotes escaped.
        var written = recipient.Contains('"') ? $"\"<{recipient.Replace("\"", "\\\"")}>\"" : $"<{recipient}>";
        await mx.DecisionAsync(l => l.Contains($"to={written} filter=relay rule=relay ", StringComparison.Ordinal));
    }
}
