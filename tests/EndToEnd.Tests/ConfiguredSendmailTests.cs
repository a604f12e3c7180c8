using Milter.TestSupport;

namespace EndToEnd.Tests;

/// <summary>One sendmail whose every option differs from the defaults.</summary>
public sealed class ConfiguredSendmailFixture : SendmailFixture
{
    protected override SendmailOptions CreateOptions(string sandbox) => new()
    {
        LocalDomains = ["example.com", "example.org"],
        Aliases = new Dictionary<string, string> { ["postmaster"] = "root", ["dave"] = "root" },
        AccessEntries = new Dictionary<string, string> { ["Connect:127.0.0.9"] = "REJECT" },
        PromiscuousRelay = true,
        ExtraMcLines = ["define(`confSMTP_LOGIN_MSG', `$j configured greeting')dnl"],
    };
}

public sealed class ConfiguredSendmailTests(ConfiguredSendmailFixture fixture) : IClassFixture<ConfiguredSendmailFixture>
{
    private readonly PrivateSendmail _sendmail = fixture.Sendmail;

    [Fact]
    public async Task Promiscuous_relay_lets_an_outside_client_send_to_a_foreign_domain()
    {
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port,
            To = ["x@foreign.example"],
            LocalInterface = "127.0.0.5",
        });

        Assert.Equal("250 2.1.5 <x@foreign.example>... Recipient ok", result.ReplyTo("RCPT")!.Text);
        Assert.Equal(["x@foreign.example"], _sendmail.ReadQueuedMessage(result.QueueId!).Recipients);
    }

    [Fact]
    public async Task Access_entry_refuses_the_listed_client()
    {
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port,
            To = ["dave@example.org"],
            LocalInterface = "127.0.0.9",
        });

        Assert.Equal("550 5.7.1 Access denied", result.ReplyTo("MAIL")!.Text);
        Assert.Null(result.ReplyTo("RCPT"));
        Assert.Equal(23, result.ExitCode);
    }

    [Fact]
    public async Task Configured_domains_and_aliases_decide_the_local_recipients()
    {
        // A name no local account has: sendmail would otherwise deliver to that account.
        var stranger = TestAccounts.UnusedName("nouser");
        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = _sendmail.Port,
            To = ["dave@example.org", $"{stranger}@example.com"],
            LocalInterface = "127.0.0.5",
            QuitAfter = "RCPT",
        });

        Assert.Equal(
            ["250 2.1.5 <dave@example.org>... Recipient ok", $"550 5.1.1 <{stranger}@example.com>... User unknown"],
            result.RepliesTo("RCPT").Select(r => r.Text));
    }

    [Fact]
    public async Task Extra_mc_lines_reach_the_configuration()
    {
        await using var smtp = await SmtpScript.ConnectAsync(_sendmail.Endpoint);

        Assert.Equal($"220 {SendmailOptions.HostName} ESMTP configured greeting", smtp.Greeting.Text);
    }
}
