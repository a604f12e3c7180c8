using System.Text.RegularExpressions;
using Milter.TestSupport;

namespace EndToEnd.Tests.Dns;

/// <summary>
/// <c>spf.reject_fail</c> through a real sendmail and the real milterhost binary, with a private
/// dnsmasq as the only DNS: an SPF fail is refused at RCPT, postmaster still reachable, a softfail
/// greylisted as usual, and the result prepended as Received-SPF.
/// </summary>
public sealed class SpfRefusalTests(SpfRefusingFixture fixture) : IClassFixture<SpfRefusingFixture>
{
    private readonly PrivateSendmail _sendmail = fixture.Sendmail;

    private Task<SwaksResult> SendAsync(string client, string sender, IReadOnlyList<string> recipients, params string[] headers) =>
        Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port, LocalInterface = client, From = sender, To = recipients, Helo = "mx.outside.example", Headers = headers,
        });

    [Fact]
    public async Task An_spf_fail_is_refused_at_rcpt_with_5_7_23_but_postmaster_still_gets_it()
    {
        var result = await SendAsync("127.0.9.20", "mallory@fail.example", ["bob@example.com", "postmaster@example.com"]);

        Assert.True(result.RepliesTo("RCPT")[0].Code == 550, string.Join('\n', fixture.Milter.Output.Where(l => l.Contains("127.0.9.20", StringComparison.Ordinal))));
        Assert.Equal(
            ["550 5.7.23 <bob@example.com>... SPF fail: fail.example does not permit 127.0.9.20 to send its mail", "250 2.1.5 <postmaster@example.com>... Recipient ok"],
            result.RepliesTo("RCPT").Select(r => r.Text));
        Assert.True(await fixture.Milter.WaitForOutputAsync(
            l => l.Contains("decision=reject stage=rcpt client=[127.0.9.20] from=<mallory@fail.example> to=<bob@example.com> filter=spf rule=spf:fail", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5)), string.Join('\n', fixture.Milter.Output));
    }

    [Fact]
    public async Task A_softfail_is_not_refused_and_its_message_carries_one_received_spf_of_ours_above_a_forged_one_removed()
    {
        var first = await SendAsync("127.0.9.21", "sam@soft.example", ["bob@example.com"]);
        Assert.Equal("250 2.1.5 <bob@example.com>... Recipient ok", first.ReplyTo("RCPT")!.Text);
        Assert.Equal("451 4.7.1 Greylisted, please retry in 2 seconds", first.ReplyTo("DATA")!.Text);
        await Task.Delay(DnsMilterFixture.Delay + TimeSpan.FromMilliseconds(300));

        var retry = await SendAsync("127.0.9.21", "sam@soft.example", ["bob@example.com"],
            "Received-SPF: pass (mx.example.com: domain of sam@soft.example designates 127.0.9.21 as permitted sender)");

        var message = _sendmail.ReadQueuedMessage(retry.QueueId!);
        var value = Regex.Replace(Assert.Single(message.HeaderValues("Received-SPF")), @"\s*\n\s*", " ");
        Assert.Equal("softfail (mx.example.com: domain of transitioning sam@soft.example does not designate 127.0.9.21 as permitted sender) "
            + "receiver=mx.example.com; client-ip=127.0.9.21; envelope-from=\"sam@soft.example\"; helo=mx.outside.example; identity=mailfrom;", value);
    }
}

/// <summary>The same SPF fail through the default configuration, where <c>spf.reject_fail</c> is off.</summary>
public sealed class SpfNotRefusedTests(DefaultDnsFixture fixture) : IClassFixture<DefaultDnsFixture>
{
    [Fact]
    public async Task An_spf_fail_is_only_greylisted_while_reject_fail_is_off()
    {
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = fixture.Sendmail.Port, LocalInterface = "127.0.9.22", From = "mallory@fail.example", To = ["bob@example.com"],
        });

        Assert.Equal("250 2.1.5 <bob@example.com>... Recipient ok", result.ReplyTo("RCPT")!.Text);
        Assert.Equal("451 4.7.1 Greylisted, please retry in 2 seconds", result.ReplyTo("DATA")!.Text);
    }
}
