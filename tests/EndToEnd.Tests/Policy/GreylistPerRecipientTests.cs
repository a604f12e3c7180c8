using EndToEnd.Tests.Daemon;

namespace EndToEnd.Tests.Policy;

/// <summary>Greylisting per recipient (<c>per_message: false</c>), with a 2 s delay.</summary>
public sealed class GreylistPerRecipientFixture : PolicyFixture
{
    protected override DaemonConfig Config(string sandbox) => new()
    {
        Relay = "{ allow_clients: [127.0.0.1/32] }",
        Greylist = "{ enabled: true, per_message: false, delay: 2s }",
    };
}

/// <summary>
/// Greylisting per recipient through a real sendmail: each new triplet is deferred at its RCPT,
/// except for a bounce (null sender), deferred once at DATA.
/// </summary>
public sealed class GreylistPerRecipientTests(GreylistPerRecipientFixture mx) : IClassFixture<GreylistPerRecipientFixture>
{
    // sendmail puts "<address>... " before the text of a 5xx RCPT reply, not of a 4xx one.
    private const string Deferred = "451 4.7.1 Greylisted, please retry in 2 seconds";

    [Fact]
    public async Task A_first_attempt_is_deferred_at_RCPT()
    {
        var result = await mx.SendAsync("127.0.21.5", "news@sender.example", ["alice@example.com"]);

        Assert.Equal(Deferred, result.ReplyTo("RCPT")!.Text);
        Assert.Null(result.ReplyTo("DATA"));
        await mx.DecisionAsync(l => l.Contains(
            ": decision=tempfail stage=rcpt client=[127.0.21.5] from=<news@sender.example> to=<alice@example.com> filter=greylist rule=greylist:new "
            + $"reply=\"{Deferred}\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_early_retry_is_deferred_again_at_RCPT()
    {
        Assert.Equal(Deferred, (await mx.SendAsync("127.0.22.5", "news@sender.example", ["alice@example.com"])).ReplyTo("RCPT")!.Text);

        var retry = await mx.SendAsync("127.0.22.5", "news@sender.example", ["alice@example.com"]);

        Assert.Contains(retry.ReplyTo("RCPT")!.Text, new[] { "451 4.7.1 Greylisted, please retry in 1 second", Deferred });
        await mx.DecisionAsync(l => l.Contains("stage=rcpt client=[127.0.22.5] from=<news@sender.example> to=<alice@example.com> filter=greylist rule=greylist:early ",
            StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_retry_after_the_delay_is_accepted()
    {
        Assert.Equal(Deferred, (await mx.SendAsync("127.0.23.5", "news@sender.example", ["alice@example.com"])).ReplyTo("RCPT")!.Text);
        await Task.Delay(GreylistWait.PastDelay);

        var retry = await mx.SendAsync("127.0.23.5", "news@sender.example", ["alice@example.com"]);

        Assert.Equal("250 2.1.5 <alice@example.com>... Recipient ok", retry.ReplyTo("RCPT")!.Text);
        Assert.Equal(["alice@example.com"], mx.Sendmail.ReadQueuedMessage(retry.QueueId!).Recipients);
    }

    [Fact]
    public async Task A_bounce_to_two_recipients_is_deferred_once_at_DATA()
    {
        var result = await mx.SendAsync("127.0.24.5", "", ["alice@example.com", "bob@example.com"]);

        Assert.Equal(["250 2.1.5 <alice@example.com>... Recipient ok", "250 2.1.5 <bob@example.com>... Recipient ok"],
            result.RepliesTo("RCPT").Select(r => r.Text));
        Assert.Equal(Deferred, result.ReplyTo("DATA")!.Text);
    }
}
