using System.Diagnostics;
using System.Net;
using Milter.TestSupport;

namespace EndToEnd.Tests.Dns;

/// <summary>
/// Greylisting decided with DNS, through a real sendmail and the real milterhost binary, with a
/// private dnsmasq as the only DNS: one decision per message, SPF sender pools, DNS outages and
/// DNS lists. Each test uses senders and clients of its own.
/// </summary>
public sealed class DnsGreylistTests(DefaultDnsFixture fixture) : IClassFixture<DefaultDnsFixture>
{
    private const string Greylisted = "451 4.7.1 Greylisted, please retry in 2 seconds";

    private readonly PrivateSendmail _sendmail = fixture.Sendmail;

    private Task<SwaksResult> SendAsync(string client, string sender, params string[] recipients) =>
        Swaks.RunAsync(new SwaksRequest { Port = _sendmail.Port, LocalInterface = client, From = sender, To = recipients });

    private static Task WaitOutTheDelayAsync() => Task.Delay(DnsMilterFixture.Delay + TimeSpan.FromMilliseconds(300));

    [Fact]
    public async Task Message_to_a_passed_and_a_new_recipient_is_deferred_whole_and_its_retry_reaches_both()
    {
        await SendAsync("127.0.6.1", "ann@nospf.example", "bob@example.com");
        await WaitOutTheDelayAsync();
        Assert.NotNull((await SendAsync("127.0.6.1", "ann@nospf.example", "bob@example.com")).QueueId);

        var mixed = await SendAsync("127.0.6.1", "ann@nospf.example", "bob@example.com", "carol@example.com");
        await WaitOutTheDelayAsync();
        var retry = await SendAsync("127.0.6.1", "ann@nospf.example", "bob@example.com", "carol@example.com");

        Assert.Equal(
            ["250 2.1.5 <bob@example.com>... Recipient ok", "250 2.1.5 <carol@example.com>... Recipient ok"],
            mixed.RepliesTo("RCPT").Select(r => r.Text));
        Assert.Equal(Greylisted, mixed.ReplyTo("DATA")!.Text);
        Assert.Equal(["bob@example.com", "carol@example.com"], _sendmail.ReadQueuedMessage(retry.QueueId!).Recipients);
    }

    [Fact]
    public async Task Pool_sender_is_deferred_once_and_its_retry_from_another_network_of_its_spf_record_is_accepted()
    {
        var first = await SendAsync("127.0.2.5", "alice@pool.example", "alice@example.com");
        await WaitOutTheDelayAsync();
        var retry = await SendAsync("127.0.3.9", "alice@pool.example", "alice@example.com");

        Assert.Equal(Greylisted, first.ReplyTo("DATA")!.Text);
        Assert.NotNull(retry.QueueId);
    }

    [Fact]
    public async Task Same_sender_from_outside_its_spf_record_is_greylisted_as_a_plain_triplet()
    {
        await SendAsync("127.0.2.6", "pat@pool.example", "bob@example.com");
        await WaitOutTheDelayAsync();
        Assert.NotNull((await SendAsync("127.0.3.6", "pat@pool.example", "bob@example.com")).QueueId);

        var outside = await SendAsync("127.0.9.9", "pat@pool.example", "bob@example.com");
        await WaitOutTheDelayAsync();
        var outsideRetry = await SendAsync("127.0.9.10", "pat@pool.example", "bob@example.com");

        Assert.Equal(Greylisted, outside.ReplyTo("DATA")!.Text);
        Assert.NotNull(outsideRetry.QueueId); // the same /24: its own plain triplet passed
    }

    [Fact]
    public async Task Domain_without_spf_is_greylisted_by_client_network_as_before()
    {
        var first = await SendAsync("127.0.7.1", "ned@nospf.example", "bob@example.com");
        await WaitOutTheDelayAsync();
        var otherNetwork = await SendAsync("127.0.8.1", "ned@nospf.example", "bob@example.com");
        var sameNetwork = await SendAsync("127.0.7.2", "ned@nospf.example", "bob@example.com");

        Assert.Equal(Greylisted, first.ReplyTo("DATA")!.Text);
        Assert.Equal(Greylisted, otherNetwork.ReplyTo("DATA")!.Text);
        Assert.NotNull(sameNetwork.QueueId);
    }

    [Fact]
    public async Task With_dns_silent_mail_is_greylisted_plainly_and_no_session_waits_longer_than_the_dns_timeout()
    {
        await fixture.Dns.SilenceAsync();
        try
        {
            var (first, firstWait) = await TimedSessionAsync("127.0.2.7", "sam@pool.example", "bob@example.com");
            await WaitOutTheDelayAsync();
            var (retry, retryWait) = await TimedSessionAsync("127.0.2.7", "sam@pool.example", "bob@example.com");

            Assert.Equal(Greylisted, first.Text);
            Assert.Equal(250, retry.Code); // the plain triplet passed on its retry
            Assert.InRange(firstWait, TimeSpan.Zero, DnsMilterFixture.DnsTimeout + TimeSpan.FromSeconds(1));
            Assert.InRange(retryWait, TimeSpan.Zero, DnsMilterFixture.DnsTimeout + TimeSpan.FromSeconds(1));
            Assert.True(await fixture.Milter.WaitForOutputAsync(
                l => l.Contains("DNS lookups failed for 127.0.2.7: spf pool.example: ", StringComparison.Ordinal), TimeSpan.FromSeconds(5)),
                string.Join('\n', fixture.Milter.Output));
        }
        finally
        {
            await fixture.Dns.StartAsync();
        }
    }

    [Fact]
    public async Task Allow_listed_client_skips_greylisting()
    {
        var result = await SendAsync("127.0.5.1", "dora@nospf.example", "bob@example.com");

        Assert.NotNull(result.QueueId);
    }

    [Fact]
    public async Task Block_listed_client_is_refused_with_the_list_named()
    {
        var result = await SendAsync("127.0.5.2", "eve@nospf.example", "bob@example.com");

        // sendmail puts "<addr>... " before a 550 RCPT reply, but passes this 554 on as written.
        Assert.Equal("554 5.7.1 Listed at bl.example (127.0.0.2)", result.ReplyTo("RCPT")!.Text);
        Assert.True(await fixture.Milter.WaitForOutputAsync(
            l => l.Contains("decision=reject stage=rcpt", StringComparison.Ordinal)
                && l.Contains("filter=dns_lists rule=\"dns_lists#2 (line ", StringComparison.Ordinal)
                && l.Contains(" bl.example\" reply=\"554 5.7.1 Listed at bl.example (127.0.0.2)\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5)), string.Join('\n', fixture.Milter.Output));
    }

    // MAIL starts the DNS lookups; the time from there to the DATA reply is what DNS can cost a session.
    private async Task<(SmtpResponse Data, TimeSpan Waited)> TimedSessionAsync(string client, string sender, string recipient)
    {
        await using var smtp = await SmtpScript.ConnectAsync(_sendmail.Endpoint, IPAddress.Parse(client));
        await smtp.EhloAsync();
        var watch = Stopwatch.StartNew();
        await smtp.MailFromAsync(sender);
        await smtp.RcptToAsync(recipient);
        var data = await smtp.DataAsync("Subject: dns outage\r\n\r\nbody\r\n");
        watch.Stop();
        await smtp.QuitAsync();
        return (data, watch.Elapsed);
    }
}
