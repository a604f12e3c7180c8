using EndToEnd.Tests.Daemon;

namespace EndToEnd.Tests.Policy;

/// <summary>Greylisting per message (the default), with a 2 s delay and an auto-whitelist after one passed triplet.</summary>
public sealed class GreylistPerMessageFixture : PolicyFixture
{
    protected override DaemonConfig Config(string sandbox) => new()
    {
        // Only sendmail's own trusted client: every 127.0.N.x below is an outside client, greylisted.
        Relay = "{ allow_clients: [127.0.0.1/32] }",
        Greylist = "{ enabled: true, per_message: true, delay: 2s, auto_whitelist: { after: 1, lifetime: 1d } }",
    };
}

/// <summary>
/// Greylisting per message through a real sendmail: every recipient is accepted at RCPT and the
/// whole message deferred once at DATA. Each test plays a client of its own /24, so its triplets
/// and auto-whitelist entries are its own.
/// </summary>
public sealed class GreylistPerMessageTests(GreylistPerMessageFixture mx) : IClassFixture<GreylistPerMessageFixture>
{
    private const string Deferred = "451 4.7.1 Greylisted, please retry in 2 seconds";

    [Fact]
    public async Task A_first_attempt_is_deferred_once_at_DATA_for_all_its_recipients()
    {
        var result = await mx.SendAsync("127.0.11.5", "news@sender.example", ["alice@example.com", "bob@example.com"]);

        Assert.Equal(["250 2.1.5 <alice@example.com>... Recipient ok", "250 2.1.5 <bob@example.com>... Recipient ok"],
            result.RepliesTo("RCPT").Select(r => r.Text));
        Assert.Equal(Deferred, result.ReplyTo("DATA")!.Text);
        await mx.DecisionAsync(l => l.Contains(
            $": decision=tempfail stage=data client=[127.0.11.5] from=<news@sender.example> filter=greylist rule=greylist:new reply=\"{Deferred}\"",
            StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_early_retry_is_deferred_again()
    {
        Assert.Equal(Deferred, (await mx.SendAsync("127.0.12.5", "news@sender.example", ["alice@example.com"])).ReplyTo("DATA")!.Text);

        var retry = await mx.SendAsync("127.0.12.5", "news@sender.example", ["alice@example.com"]);

        // The clock is not reset: what is left of the 2 s, in whole seconds.
        Assert.Contains(retry.ReplyTo("DATA")!.Text, new[] { "451 4.7.1 Greylisted, please retry in 1 second", Deferred });
        await mx.DecisionAsync(l => l.Contains("stage=data client=[127.0.12.5] from=<news@sender.example> filter=greylist rule=greylist:early ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_retry_after_the_delay_is_accepted()
    {
        var first = await mx.SendAsync("127.0.13.5", "news@sender.example", ["alice@example.com", "bob@example.com"]);
        Assert.Equal(Deferred, first.ReplyTo("DATA")!.Text);
        await Task.Delay(GreylistWait.PastDelay);

        // A neighbour in the same /24 retries, as big senders' outbound pools do.
        var retry = await mx.SendAsync("127.0.13.6", "news@sender.example", ["alice@example.com", "bob@example.com"]);

        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", retry.ReplyTo("DATA")!.Text);
        Assert.Equal(["alice@example.com", "bob@example.com"], mx.Sendmail.ReadQueuedMessage(retry.QueueId!).Recipients);
    }

    [Fact]
    public async Task An_auto_whitelisted_sender_domain_skips_greylisting_for_a_new_recipient()
    {
        Assert.Equal(Deferred, (await mx.SendAsync("127.0.14.5", "news@sender.example", ["alice@example.com"])).ReplyTo("DATA")!.Text);
        await Task.Delay(GreylistWait.PastDelay);
        Assert.NotNull((await mx.SendAsync("127.0.14.5", "news@sender.example", ["alice@example.com"])).QueueId);

        // One passed triplet (auto_whitelist.after: 1): a new sender and recipient of that domain and /24 go straight through.
        var next = await mx.SendAsync("127.0.14.9", "billing@sender.example", ["carol@example.com"]);

        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", next.ReplyTo("DATA")!.Text);
        Assert.Equal(["carol@example.com"], mx.Sendmail.ReadQueuedMessage(next.QueueId!).Recipients);
    }
}
