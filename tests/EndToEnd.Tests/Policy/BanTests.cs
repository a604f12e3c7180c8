using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.Policy;

/// <summary>The ban rules milterhost runs with, and the alias sendmail needs for the one who left.</summary>
public sealed class BanFixture : PolicyFixture
{
    protected override DaemonConfig Config(string sandbox) => new()
    {
        Relay = "{ allow_clients: [127.0.0.1/32] }",
        Ban =
        [
            "{ client: 127.0.0.20, reply: \"550 5.7.1 Your network is banned here\" }",
            "{ client_name: localhost, reply: \"550 5.7.1 No mail from localhost\" }",
            // Every name: yet an unresolved client, which sendmail reports as [127.0.0.N], matches no name rule.
            "{ client_name: \"*\", reply: \"550 5.7.1 Named clients are banned\" }",
            "{ helo: \"*.bad-helo.example\", reply: \"550 5.7.1 Your HELO is banned\" }",
            "{ sender: \"*@spammer.example\", reply: \"550 5.7.1 Mail from spammer.example is refused\" }",
            "{ sender: \"*@later.example\", action: tempfail, reply: \"451 4.7.1 Not now, later.example\" }",
            "{ recipient: former-employee@example.com, reply: \"550 5.1.1 This person has left\" }",
            "{ subject: \"(?i)cheap\\\\s+meds\", reply: \"550 5.7.1 No cheap meds here\" }",
            "{ recipient: quiet-leaver@example.com, action: discard }",
        ],
    };

    protected override SendmailOptions SendmailOptions(string milterSocket) => base.SendmailOptions(milterSocket) with
    {
        Aliases = SendmailAliasesWith("former-employee", "quiet-leaver"),
    };
}

/// <summary>
/// Ban rules through a real sendmail, one client address per test: each rule refuses at its own
/// stage, the client sees the configured reply (sendmail's own greeting at CONNECT), and the
/// maillog names the rule and its line.
/// </summary>
public sealed class BanTests(BanFixture mx) : IClassFixture<BanFixture>
{
    [Fact]
    public async Task A_banned_client_address_is_refused_at_connect_and_the_reply_text_is_in_the_log()
    {
        var result = await mx.SendAsync("127.0.0.20", "someone@outside.example", ["alice@example.com"]);

        // sendmail shows a refusal at CONNECT as its own greeting; the configured text is only logged.
        Assert.Equal("554 mx.example.com ESMTP not accepting messages", result.Greeting!.Text);
        Assert.Null(result.ReplyTo("MAIL"));
        await mx.DecisionAsync(l => l.EndsWith(
            $"NOQUEUE: decision=reject stage=connect client=[127.0.0.20] filter=ban rule={mx.BanRule(1, "client: 127.0.0.20")} reply=\"550 5.7.1 Your network is banned here\"",
            StringComparison.Ordinal));
        await mx.Sendmail.Log.WaitForLineAsync(l => l.EndsWith("Milter: connect: host=[127.0.0.20], addr=127.0.0.20, rejecting commands", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_banned_client_name_is_refused_at_connect()
    {
        // sendmail has no DNS here: 127.0.0.1 is named "localhost" by /etc/hosts, every other 127.0.0.N is unresolved.
        var result = await mx.SendAsync("127.0.0.1", "someone@outside.example", ["alice@example.com"]);

        Assert.Equal("554 mx.example.com ESMTP not accepting messages", result.Greeting!.Text);
        await mx.DecisionAsync(l => l.EndsWith(
            $"NOQUEUE: decision=reject stage=connect client=localhost [127.0.0.1] filter=ban rule={mx.BanRule(2, "client_name: localhost")} reply=\"550 5.7.1 No mail from localhost\"",
            StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unresolved_client_matches_no_name_rule_and_its_banned_HELO_is_refused()
    {
        var result = await mx.SendAsync("127.0.0.22", "someone@outside.example", ["alice@example.com"], helo: "mx.bad-helo.example");

        Assert.StartsWith("220 mx.example.com ESMTP", result.Greeting!.Text, StringComparison.Ordinal);
        // sendmail answers EHLO itself and refuses the session's next command with the filter's reply.
        Assert.Equal("550 5.7.1 Your HELO is banned", result.ReplyTo("MAIL")!.Text);
        await mx.DecisionAsync(l => l.EndsWith(
            $"NOQUEUE: decision=reject stage=helo client=[127.0.0.22] filter=ban rule={mx.BanRule(4, "helo:")} reply=\"550 5.7.1 Your HELO is banned\"",
            StringComparison.Ordinal));
        Assert.DoesNotContain(mx.Sendmail.Log.Lines, l => l.Contains("stage=connect client=[127.0.0.22]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_banned_sender_is_refused_at_MAIL()
    {
        var result = await mx.SendAsync("127.0.0.23", "bulk@spammer.example", ["alice@example.com"]);

        Assert.Equal("550 5.7.1 <bulk@spammer.example>... Mail from spammer.example is refused", result.ReplyTo("MAIL")!.Text);
        Assert.Null(result.ReplyTo("RCPT"));
        await mx.DecisionAsync(l => l.Contains(
            $": decision=reject stage=mail client=[127.0.0.23] from=<bulk@spammer.example> filter=ban rule={mx.BanRule(5, "*@spammer.example")} ",
            StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_tempfail_rule_defers_the_sender_with_its_4xx_reply()
    {
        var result = await mx.SendAsync("127.0.0.24", "x@later.example", ["alice@example.com"]);

        Assert.Equal("451 4.7.1 Not now, later.example", result.ReplyTo("MAIL")!.Text);
        await mx.DecisionAsync(l => l.Contains(
            $": decision=tempfail stage=mail client=[127.0.0.24] from=<x@later.example> filter=ban rule={mx.BanRule(6, "*@later.example")} ",
            StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_banned_recipient_is_refused_while_another_on_the_message_is_accepted()
    {
        var result = await mx.SendAsync("127.0.0.25", "someone@outside.example", ["former-employee@example.com", "alice@example.com"]);

        var rcpt = result.RepliesTo("RCPT");
        Assert.Equal("550 5.1.1 <former-employee@example.com>... This person has left", rcpt[0].Text);
        Assert.Equal("250 2.1.5 <alice@example.com>... Recipient ok", rcpt[1].Text);
        Assert.Equal(["alice@example.com"], mx.Sendmail.ReadQueuedMessage(result.QueueId!).Recipients);
    }

    [Fact]
    public async Task A_recipient_discarded_by_a_rule_leaves_the_envelope_and_the_colleague_on_the_message_still_gets_it()
    {
        // Answered "discard" at RCPT, sendmail would drop the message for every recipient (EF_DISCARD).
        var shared = await mx.SendAsync("127.0.0.33", "someone@outside.example", ["quiet-leaver@example.com", "alice@example.com"]);
        var alone = await mx.SendAsync("127.0.0.34", "someone@outside.example", ["quiet-leaver@example.com"]);

        Assert.Equal(["250 2.1.5 <quiet-leaver@example.com>... Recipient ok", "250 2.1.5 <alice@example.com>... Recipient ok"],
            shared.RepliesTo("RCPT").Select(r => r.Text));
        Assert.Equal(["alice@example.com"], mx.Sendmail.ReadQueuedMessage(shared.QueueId!).Recipients);
        Assert.Throws<InvalidOperationException>(() => mx.Sendmail.ReadQueuedMessage(alone.QueueId!));
        await mx.Sendmail.Log.WaitForLineAsync(l => l.Contains(alone.QueueId!, StringComparison.Ordinal) && l.EndsWith("Milter: data, discard", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_banned_subject_is_refused_after_DATA_also_when_encoded()
    {
        // "Cheap  meds, today only" as an RFC 2047 encoded word: the rule runs on the decoded text.
        var result = await mx.SendAsync("127.0.0.26", "someone@outside.example", ["alice@example.com"], subject: "=?UTF-8?B?Q2hlYXAgIG1lZHMsIHRvZGF5IG9ubHk=?=");

        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", result.ReplyTo("DATA")!.Text);
        Assert.Equal("550 5.7.1 No cheap meds here", result.FinalReply!.Text);
        Assert.Null(result.QueueId);
        await mx.DecisionAsync(l => l.Contains(
            $": decision=reject stage=eoh client=[127.0.0.26] from=<someone@outside.example> filter=ban rule={mx.BanRule(8, "subject:")} ",
            StringComparison.Ordinal));
    }
}
