using Milter.Protocol.Session;
using Milter.TestSupport;

namespace EndToEnd.Tests.ProtocolInterop;

/// <summary>A real sendmail 8.17 wired by INPUT_MAIL_FILTER to <see cref="TestFilter"/> running on the library's server.</summary>
public sealed class InteropFixture : LibraryFilterFixture
{
    internal TestFilterLog Log { get; } = new();

    protected override IMilterHandler CreateHandler() => new TestFilter(Log);

    protected override SendmailOptions SendmailOptionsFor(string milterSocket) => new()
    {
        MilterSocket = milterSocket,
        Aliases = new Dictionary<string, string>(SendmailOptions.StandardAliases) { ["reject"] = "alice", ["tempfail"] = "alice" },
    };
}

public sealed class SendmailInteropTests(InteropFixture fixture) : IClassFixture<InteropFixture>
{
    private readonly PrivateSendmail _sendmail = fixture.Sendmail;

    [Fact]
    public async Task Reject_at_rcpt_refuses_that_recipient_with_the_filters_text()
    {
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port,
            To = ["reject@example.com"],
            QuitAfter = "RCPT",
        });

        Assert.Equal("550 5.7.1 <reject@example.com>... Recipient refused by the test filter", result.ReplyTo("RCPT")!.Text);
    }

    [Fact]
    public async Task Tempfail_at_rcpt_defers_that_recipient_while_another_is_accepted()
    {
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port,
            To = ["tempfail@example.com", "bob@example.com"],
        });

        var rcpts = result.RepliesTo("RCPT");
        Assert.Equal("451 4.7.1 Try again later, says the test filter", rcpts[0].Text);
        Assert.StartsWith("250 2.1.5", rcpts[1].Text);
        var queued = _sendmail.ReadQueuedMessage(result.QueueId!);
        Assert.Equal(["bob@example.com"], queued.Recipients.Select(r => r.ToLowerInvariant()));
    }

    [Fact]
    public async Task Accepted_message_carries_the_header_the_filter_added()
    {
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port,
            To = ["alice@example.com"],
            LocalInterface = "127.0.0.7",
            Headers = ["Subject: interop"],
        });

        Assert.StartsWith("250 2.0.0", result.FinalReply!.Text);
        var queued = _sendmail.ReadQueuedMessage(result.QueueId!);
        Assert.Equal($"client=127.0.0.7 qid={result.QueueId}", queued.Header("X-Milter-Test"));
        Assert.Equal("interop", queued.Header("Subject"));
    }

    [Fact]
    public async Task Two_messages_on_one_SMTP_connection_are_both_filtered_on_one_milter_connection()
    {
        var before = fixture.Log.Messages.Count;
        await using var smtp = await SmtpScript.ConnectAsync(_sendmail.Endpoint, System.Net.IPAddress.Parse("127.0.0.8"));
        await smtp.EhloAsync("client.remote.example");
        var ids = new List<string>();
        for (var i = 1; i <= 2; i++)
        {
            Assert.True((await smtp.MailFromAsync("sender@remote.example")).IsPositive);
            Assert.True((await smtp.RcptToAsync("carol@example.com")).IsPositive);
            var done = await smtp.DataAsync($"Subject: message {i}\r\n\r\nbody {i}\r\n");
            Assert.True(done.IsPositive, done.Text);
            ids.Add(done.AcceptedQueueId!);
        }
        await smtp.QuitAsync();

        foreach (var id in ids)
            Assert.Equal($"client=127.0.0.8 qid={id}", _sendmail.ReadQueuedMessage(id).Header("X-Milter-Test"));
        var seen = fixture.Log.Messages.Skip(before).Where(m => ids.Contains(m.QueueId!)).ToList();
        Assert.Equal(2, seen.Count);
        Assert.Single(seen.Select(m => m.ConnectionId).Distinct());
    }

    [Fact]
    public async Task IPv6_client_is_reported_with_family_6()
    {
        Assert.True(_sendmail.ListensOnIpv6);
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Server = "::1",
            Port = _sendmail.Port,
            To = ["alice@example.com"],
        });

        Assert.StartsWith("250 2.0.0", result.FinalReply!.Text);
        var header = _sendmail.ReadQueuedMessage(result.QueueId!).Header("X-Milter-Test");
        // sendmail writes {client_addr} of an IPv6 client in its long tagged form.
        Assert.StartsWith("client=IPv6:0:0:0:0:0:0:0:1 ", header);
        var connect = fixture.Log.Connections.Last(c => c.Family == Milter.Protocol.Commands.ConnectFamily.Inet6);
        Assert.Equal(System.Net.IPAddress.IPv6Loopback, connect.Address);
    }
}
