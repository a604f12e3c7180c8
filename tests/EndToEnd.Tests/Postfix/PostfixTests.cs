using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.Postfix;

/// <summary>
/// A private Postfix 3.7 (its own milter client, written apart from sendmail's) wired to the real
/// <c>milterhost run</c>. Postfix itself accepts every recipient (<c>relay_domains = static:ALL</c>,
/// no local recipient map), so every refusal seen here is milterhost's.
/// </summary>
public sealed class PostfixFixture : IAsyncLifetime
{
    private DaemonSandbox? _sandbox;
    private MilterHostProcess? _daemon;
    private PrivatePostfix? _postfix;

    public PrivatePostfix Postfix => _postfix ?? throw new InvalidOperationException("not initialised");

    public MilterHostProcess Daemon => _daemon ?? throw new InvalidOperationException("not initialised");

    public async Task InitializeAsync()
    {
        _sandbox = new DaemonSandbox("postfix");
        try
        {
            await StartBothAsync(_sandbox);
        }
        catch
        {
            // xunit does not dispose a fixture whose start failed: stop what did start.
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartBothAsync(DaemonSandbox sandbox)
    {
        var aliases = Path.Combine(sandbox.Directory, "milterhost-aliases");
        File.WriteAllText(aliases, "# who milterhost knows\npostmaster: root\nalice: root\nbob: root\n");
        _daemon = await sandbox.StartAsync(new DaemonConfig
        {
            Log = "{ level: info, syslog: false }",
            // Loopback is no allowed client: only a local submission relays from it.
            Relay = "{ allow_clients: [192.0.2.0/24] }",
            Greylist = "{ enabled: true, per_message: true, delay: 2s }",
            Recipients = $"{{ reject_unknown: true, sources: [\"aliases:{aliases}\"] }}",
            Ban = ["{ sender: \"*@spammer.example\", reply: \"550 5.7.1 Mail from spammer.example is refused\" }"],
        });
        _postfix = await PrivatePostfix.StartAsync("unix:" + sandbox.SocketPath);
    }

    public async Task DisposeAsync()
    {
        if (_postfix is not null)
            await _postfix.DisposeAsync();
        if (_daemon is not null)
            await _daemon.DisposeAsync();
        _sandbox?.Dispose();
    }

    /// <summary>One SMTP session from <paramref name="client"/> (an outside 127.0.0.0/8 address) with one message.</summary>
    public Task<SwaksResult> SendAsync(string client, string from, IReadOnlyList<string> to, string? quitAfter = null) =>
        Swaks.RunAsync(new SwaksRequest
        {
            Port = Postfix.Port,
            LocalInterface = client,
            From = from,
            To = to,
            Helo = "client.outside.example",
            QuitAfter = quitAfter,
        });

    /// <summary>Waits for milterhost's decision line that contains <paramref name="text"/>.</summary>
    public async Task DecisionAsync(string text) =>
        Assert.True(await Daemon.WaitForOutputAsync(l => l.Contains(" decision=", StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal), TimeSpan.FromSeconds(10)),
            $"no decision line with '{text}':\n{string.Join('\n', Daemon.Output)}");
}

/// <summary>Greylist, ban, unknown recipient and relay refusal, as the sendmail tests check them, through Postfix.</summary>
public sealed class PostfixTests(PostfixFixture mx) : IClassFixture<PostfixFixture>
{
    [Fact]
    public async Task A_first_attempt_is_greylisted_at_DATA_and_a_retry_after_the_delay_is_queued()
    {
        var first = await mx.SendAsync("127.0.0.5", "news@sender.example", ["alice@example.com", "bob@example.com"]);

        Assert.Equal(["250 2.1.5 Ok", "250 2.1.5 Ok"], first.RepliesTo("RCPT").Select(r => r.Text));
        Assert.Equal("451 4.7.1 Greylisted, please retry in 2 seconds", first.ReplyTo("DATA")!.Text);
        await mx.Postfix.WaitForLogLineAsync(l => l.Contains(
            "milter-reject: DATA from unknown[127.0.0.5]: 451 4.7.1 Greylisted, please retry in 2 seconds;", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        await mx.DecisionAsync("decision=tempfail stage=data client=[127.0.0.5] from=<news@sender.example> filter=greylist rule=greylist:new");

        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var retry = await mx.SendAsync("127.0.0.5", "news@sender.example", ["alice@example.com", "bob@example.com"]);

        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", retry.ReplyTo("DATA")!.Text);
        Assert.Matches("^250 2.0.0 Ok: queued as [0-9A-F]+$", retry.FinalReply!.Text);
    }

    [Fact]
    public async Task A_banned_sender_is_refused_at_MAIL_with_the_configured_reply()
    {
        var result = await mx.SendAsync("127.0.0.6", "bulk@spammer.example", ["alice@example.com"]);

        Assert.Equal("550 5.7.1 Mail from spammer.example is refused", result.ReplyTo("MAIL")!.Text);
        Assert.Null(result.ReplyTo("RCPT"));
        await mx.DecisionAsync("decision=reject stage=mail client=[127.0.0.6] from=<bulk@spammer.example> filter=ban");
        await mx.Postfix.WaitForLogLineAsync(l => l.Contains(
            "NOQUEUE: milter-reject: MAIL from unknown[127.0.0.6]: 550 5.7.1 Mail from spammer.example is refused;", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task An_unknown_recipient_is_refused_while_a_known_one_is_accepted()
    {
        var result = await mx.SendAsync("127.0.0.7", "someone@outside.example", ["ghost@example.com", "alice@example.com"], quitAfter: "RCPT");

        var rcpt = result.RepliesTo("RCPT");
        // Postfix shows the milter's reply as it is; sendmail puts the address in front.
        Assert.Equal("550 5.1.1 User unknown", rcpt[0].Text);
        Assert.Equal("250 2.1.5 Ok", rcpt[1].Text);
        await mx.DecisionAsync("stage=rcpt client=[127.0.0.7] from=<someone@outside.example> to=<ghost@example.com> filter=recipients rule=recipients reply=\"550 5.1.1 User unknown\"");
    }

    [Fact]
    public async Task Relay_to_a_foreign_domain_is_refused_from_an_outside_client()
    {
        var result = await mx.SendAsync("127.0.0.8", "someone@outside.example", ["x@foreign.example"], quitAfter: "RCPT");

        Assert.Equal("550 5.7.1 Relaying denied", result.ReplyTo("RCPT")!.Text);
        await mx.DecisionAsync("stage=rcpt client=[127.0.0.8] from=<someone@outside.example> to=<x@foreign.example> filter=relay rule=relay reply=\"550 5.7.1 Relaying denied\"");
    }

    [Fact]
    public async Task A_message_through_Postfixs_sendmail_command_is_a_local_submission_and_may_relay()
    {
        // non_smtpd_milters: Postfix's cleanup connects as localhost, 127.0.0.1, port 0 (HELO localhost).
        await mx.Postfix.SendmailCommandAsync("local-cmd@example.com", "x@foreign.example",
            "From: local-cmd@example.com\nTo: x@foreign.example\nSubject: local submission\n\nfrom the sendmail command\n");

        var queued = await mx.Postfix.WaitForLogLineAsync(l =>
            l.Contains("from=<local-cmd@example.com>", StringComparison.Ordinal)
            && (l.Contains("nrcpt=1 (queue active)", StringComparison.Ordinal) || l.Contains("milter-", StringComparison.Ordinal)), TimeSpan.FromSeconds(20));
        Assert.Contains("nrcpt=1 (queue active)", queued, StringComparison.Ordinal);
    }
}
