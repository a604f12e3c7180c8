using System.Net;
using System.Text.RegularExpressions;
using Milter.TestSupport;

namespace EndToEnd.Tests;

/// <summary>sendmail without a milter, as the harness configures it by default.</summary>
[Collection(DefaultSendmailCollection.Name)]
public sealed class DefaultSendmailTests(DefaultSendmailFixture fixture)
{
    private static readonly TimeSpan LogWait = TimeSpan.FromSeconds(10);
    private readonly PrivateSendmail _sendmail = fixture.Sendmail;

    [Fact]
    public async Task Message_from_swaks_is_queued_with_its_headers_and_body()
    {
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port,
            From = "a@remote.example",
            To = ["alice@example.com"],
            Headers = ["Subject: queued with headers"],
            Body = "first line\n.leading dot\nlast line",
        });

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("250 2.1.5 <alice@example.com>... Recipient ok", result.ReplyTo("RCPT")!.Text);
        var queueId = Assert.IsType<string>(result.QueueId);
        Assert.Equal($"250 2.0.0 {queueId} Message accepted for delivery", result.FinalReply!.Text);
        var queued = _sendmail.ReadQueuedMessage(queueId);
        Assert.Equal("a@remote.example", queued.Sender);
        Assert.Equal(["alice@example.com"], queued.Recipients);
        Assert.Equal("queued with headers", queued.Header("Subject"));
        Assert.Equal("a@remote.example", queued.Header("from"));
        Assert.StartsWith("from ", queued.Header("Received"), StringComparison.Ordinal);
        Assert.Contains($"by {SendmailOptions.HostName} (8.17", queued.Header("Received"), StringComparison.Ordinal);
        Assert.StartsWith("first line\n.leading dot\nlast line\n", queued.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Outside_client_is_refused_relaying_to_a_foreign_domain()
    {
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port,
            To = ["x@foreign.example"],
            LocalInterface = "127.0.0.5",
            QuitAfter = "RCPT",
        });

        Assert.Equal("550 5.7.1 <x@foreign.example>... Relaying denied. IP name lookup failed [127.0.0.5]", result.ReplyTo("RCPT")!.Text);
        Assert.Null(result.FinalReply);
    }

    [Fact]
    public async Task Client_on_127_0_0_1_relays_to_a_foreign_domain()
    {
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port,
            To = ["x@foreign.example"],
            LocalInterface = "127.0.0.1",
        });

        Assert.Equal("250 2.1.5 <x@foreign.example>... Recipient ok", result.ReplyTo("RCPT")!.Text);
        Assert.Equal(["x@foreign.example"], _sendmail.ReadQueuedMessage(result.QueueId!).Recipients);
    }

    [Fact]
    public async Task Unknown_local_user_is_refused_while_alias_is_accepted()
    {
        var stranger = TestAccounts.UnusedName("nouser");
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port,
            To = [$"{stranger}@example.com", "bob@example.com"],
            LocalInterface = "127.0.0.5",
            QuitAfter = "RCPT",
        });

        Assert.Equal(
            [$"550 5.1.1 <{stranger}@example.com>... User unknown", "250 2.1.5 <bob@example.com>... Recipient ok"],
            result.RepliesTo("RCPT").Select(r => r.Text));
    }

    [Fact]
    public async Task Two_messages_on_one_connection_are_both_queued()
    {
        await using var smtp = await SmtpScript.ConnectAsync(_sendmail.Endpoint, IPAddress.Parse("127.0.0.5"));
        Assert.StartsWith($"220 {SendmailOptions.HostName} ESMTP Sendmail", smtp.Greeting.Text, StringComparison.Ordinal);
        var ehlo = await smtp.EhloAsync("client.remote.example");
        Assert.Equal($"250-{SendmailOptions.HostName} Hello [127.0.0.5], pleased to meet you", ehlo.Lines[0]);
        Assert.Equal("250 HELP", ehlo.Lines[^1]);

        Assert.Equal("250 2.1.0 <one@remote.example>... Sender ok", (await smtp.MailFromAsync("one@remote.example")).Text);
        Assert.Equal("250 2.1.5 <alice@example.com>... Recipient ok", (await smtp.RcptToAsync("alice@example.com")).Text);
        var first = await smtp.DataAsync("Subject: first\r\n\r\nbody one\r\n");
        Assert.Equal("250 2.0.0 Reset state", (await smtp.RsetAsync()).Text);
        await smtp.MailFromAsync("two@remote.example");
        await smtp.RcptToAsync("carol@example.com");
        var second = await smtp.DataAsync("Subject: second\n\n..dots\nbody two\n");
        Assert.Equal($"221 2.0.0 {SendmailOptions.HostName} closing connection", (await smtp.QuitAsync()).Text);

        var firstId = Assert.IsType<string>(first.AcceptedQueueId);
        var secondId = Assert.IsType<string>(second.AcceptedQueueId);
        Assert.NotEqual(firstId, secondId);
        var one = _sendmail.ReadQueuedMessage(firstId);
        var two = _sendmail.ReadQueuedMessage(secondId);
        Assert.Equal(("one@remote.example", "alice@example.com", "first", "body one\n"), (one.Sender, one.Recipients.Single(), one.Header("Subject"), one.Body));
        Assert.Equal(("two@remote.example", "carol@example.com", "second", "..dots\nbody two\n"), (two.Sender, two.Recipients.Single(), two.Header("Subject"), two.Body));
    }

    [Fact]
    public async Task Ipv6_client_over_loopback_is_accepted()
    {
        Assert.True(_sendmail.ListensOnIpv6);
        var result = await Swaks.RunAsync(new SwaksRequest { Server = "::1", Port = _sendmail.Port, To = ["alice@example.com"] });

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("[IPv6:0:0:0:0:0:0:0:1]", result.Greeting!.Text, StringComparison.Ordinal);
        var queued = _sendmail.ReadQueuedMessage(result.QueueId!);
        Assert.Contains("[IPv6:0:0:0:0:0:0:0:1]", queued.Header("Received"), StringComparison.Ordinal);
        await _sendmail.Log.WaitForLineAsync(l => l.Contains($"{result.QueueId}: from=<sender@remote.example>", StringComparison.Ordinal) && l.Contains("daemon=MTA-v6", StringComparison.Ordinal), LogWait);
    }

    [Fact]
    public async Task Null_sender_is_queued_with_an_empty_sender()
    {
        var result = await Swaks.RunAsync(new SwaksRequest { Port = _sendmail.Port, From = "", To = ["postmaster@example.com"] });

        Assert.Equal("250 2.1.0 <>... Sender ok", result.ReplyTo("MAIL")!.Text);
        Assert.Equal(string.Empty, _sendmail.ReadQueuedMessage(result.QueueId!).Sender);
    }

    [Fact]
    public async Task Syslog_sink_captures_sendmail_from_line_in_maillog_form()
    {
        var result = await Swaks.RunAsync(new SwaksRequest { Port = _sendmail.Port, From = "logged@remote.example", To = ["alice@example.com"] });
        var queueId = Assert.IsType<string>(result.QueueId);

        var line = await _sendmail.Log.WaitForLineAsync(l => l.Contains($"{queueId}: from=<logged@remote.example>", StringComparison.Ordinal), LogWait);

        var pattern = $@"^[A-Z][a-z]{{2}} [ 0-9][0-9] [0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}} {Regex.Escape(Environment.MachineName)} sendmail\[[0-9]+\]: {queueId}: from=<logged@remote\.example>, size=[0-9]+, class=0, nrcpts=1, .*relay=localhost \[127\.0\.0\.1\]$";
        Assert.Matches(pattern, line);
        Assert.Contains(line, await File.ReadAllLinesAsync(_sendmail.Log.LogFilePath));
    }
}
