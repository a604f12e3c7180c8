using System.Globalization;
using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.Policy;

/// <summary>
/// relay.local_users through a real sendmail: two real accounts (one listed, one not) and root
/// submit over loopback SMTP and through the real submission program. Loopback is not in
/// allow_clients, so greylisting applies to it; greylist runs before relay here and skips
/// <c>@direct.example</c>, so a message to <c>@queued.example</c> is tempfailed once (451 at RCPT),
/// waits in the submission queue and comes back from the queue runner, which connects as smmsp.
/// </summary>
public sealed class LocalUsersFixture : PolicyFixture
{
    private TestAccount? _listed;
    private TestAccount? _unlisted;
    private SubmissionProgram? _submission;

    /// <summary>An account on relay.local_users.</summary>
    public TestAccount Listed => _listed ?? throw new InvalidOperationException("not initialised");

    /// <summary>An account not on it.</summary>
    public TestAccount Unlisted => _unlisted ?? throw new InvalidOperationException("not initialised");

    public SubmissionProgram Submission => _submission ?? throw new InvalidOperationException("not initialised");

    protected override async Task PrepareAsync()
    {
        _listed = await TestAccounts.CreateAsync("mhlu");
        _unlisted = await TestAccounts.CreateAsync("mhlu");
    }

    protected override async Task StartedAsync() => _submission = await SubmissionProgram.CreateAsync(Sendmail);

    protected override async Task CleanUpAsync()
    {
        if (_listed is not null)
            await _listed.DisposeAsync();
        if (_unlisted is not null)
            await _unlisted.DisposeAsync();
    }

    protected override DaemonConfig Config(string sandbox) => new()
    {
        Relay = $"{{ allow_clients: [192.0.2.0/24], local_users: [root, {Listed.Name}] }}",
        Greylist = "{ enabled: true, per_message: false, delay: 2s, retry_window: 1h, skip: { recipients: [\"@direct.example\"] } }",
        Extra = "filters: [greylist, relay, ban, recipients]\n",
    };

    /// <summary>One message to <paramref name="to"/> through <c>sendmail -t</c> as <paramref name="user"/> (null: root).</summary>
    public Task<SubmissionProgram.Outcome> SubmitAsync(string? user, string from, string to, string subject) =>
        Submission.SendAsync(user, from, $"From: {from}\nTo: {to}\nSubject: {subject}\n\nlocal_users end to end\n");

    /// <summary>swaks as <paramref name="user"/> from 127.0.0.1, up to RCPT.</summary>
    public Task<SubmissionProgram.Outcome> SwaksAsync(string user, string from, string to) =>
        Submission.RunInNamespaceAsync(user,
            ["swaks", "--server", $"127.0.0.1:{Sendmail.Port.ToString(CultureInfo.InvariantCulture)}", "--from", from, "--to", to,
             "--helo", "localhost", "--quit-after", "RCPT"], null);

    /// <summary>The message in sendmail's own queue whose Subject is <paramref name="subject"/>, or null.</summary>
    public QueuedMessage? Queued(string subject) =>
        Sendmail.ReadQueue().FirstOrDefault(m => m.Headers.Any(h => h.Name == "Subject" && h.Value.Trim() == subject));
}

public sealed class LocalUsersTests(LocalUsersFixture mx) : IClassFixture<LocalUsersFixture>
{
    [Fact]
    public async Task Over_loopback_SMTP_a_listed_user_may_relay_and_another_is_refused_by_name()
    {
        var listed = await mx.SwaksAsync(mx.Listed.Name, "alice@example.com", "x@direct.example");
        var unlisted = await mx.SwaksAsync(mx.Unlisted.Name, "bob@example.com", "y@direct.example");

        Assert.Contains("<-  250 2.1.5 <x@direct.example>... Recipient ok", listed.Output, StringComparison.Ordinal);
        Assert.Contains("<** 550 5.7.1 <y@direct.example>... Relaying denied", unlisted.Output, StringComparison.Ordinal);
        await mx.DecisionAsync(l => l.Contains(
            $"stage=rcpt client=localhost [127.0.0.1] from=<bob@example.com> to=<y@direct.example> filter=relay rule=\"local_users ({mx.Unlisted.Name})\" reply=\"550 5.7.1 Relaying denied\"",
            StringComparison.Ordinal));
    }

    [Fact]
    public async Task Through_sendmail_t_a_listed_user_and_root_may_relay_and_another_is_refused()
    {
        var listed = await mx.SubmitAsync(mx.Listed.Name, "alice@example.com", "x@direct.example", "direct listed");
        var root = await mx.SubmitAsync(null, "root@example.com", "r@direct.example", "direct root");
        var unlisted = await mx.SubmitAsync(mx.Unlisted.Name, "bob@example.com", "y@direct.example", "direct unlisted");

        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.True(root.ExitCode == 0, root.ToString());
        Assert.Equal(["x@direct.example"], mx.Queued("direct listed")?.Recipients);
        Assert.Equal(["r@direct.example"], mx.Queued("direct root")?.Recipients);
        Assert.Null(mx.Queued("direct unlisted"));
        // The unlisted user's own submission program connects as that user: refused at RCPT, by name.
        await mx.DecisionAsync(l => l.Contains(
            $"from=<bob@example.com> to=<y@direct.example> filter=relay rule=\"local_users ({mx.Unlisted.Name})\"", StringComparison.Ordinal)
            && l.Contains("stage=rcpt", StringComparison.Ordinal));
    }

    [Fact]
    public async Task From_the_submission_queue_the_listed_user_passes_and_the_other_is_refused_by_the_name_in_Received()
    {
        var listed = await mx.SubmitAsync(mx.Listed.Name, "alice@example.com", "x@queued.example", "queued listed");
        var unlisted = await mx.SubmitAsync(mx.Unlisted.Name, "bob@example.com", "y@queued.example", "queued unlisted");
        var root = await mx.SubmitAsync(null, "root@example.com", "r@queued.example", "queued root");
        Assert.True(listed.ExitCode == 0 && unlisted.ExitCode == 0 && root.ExitCode == 0, $"{listed}{unlisted}{root}");
        // Greylisted: all three wait in the submission queue.
        await mx.DecisionAsync(l => l.Contains("to=<y@queued.example> filter=greylist", StringComparison.Ordinal));
        Assert.Equal([1, 1, 1], new[] { "x@queued.example", "y@queued.example", "r@queued.example" }.Select(mx.Submission.QueuedFor));
        Assert.Null(mx.Queued("queued listed"));

        await Task.Delay(TimeSpan.FromSeconds(3));
        var run = await mx.Submission.RunQueueAsync();

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(mx.Queued("queued listed") is not null, run + string.Join("\n", mx.Sendmail.Log.Lines.TakeLast(40)));
        Assert.Equal(["x@queued.example"], mx.Queued("queued listed")?.Recipients);
        Assert.Equal(["r@queued.example"], mx.Queued("queued root")?.Recipients);
        Assert.Null(mx.Queued("queued unlisted"));
        // The queue runner is smmsp: the user comes from the submission program's Received line, at the end of the headers.
        await mx.DecisionAsync(l => l.Contains(
            $"stage=eoh client=localhost [127.0.0.1] from=<bob@example.com> filter=relay rule=\"local_users ({mx.Unlisted.Name})\" reply=\"550 5.7.1 Relaying denied\"",
            StringComparison.Ordinal));
    }
}
