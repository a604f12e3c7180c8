using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.Policy;

/// <summary>
/// A real sendmail wired to the real <c>milterhost run</c>, both logging to one maillog: the setup
/// a postmaster installs, shared by the tests of one class. Subclasses state the milterhost.yaml
/// (and the files it names) and what sendmail itself is told.
/// </summary>
public abstract class PolicyFixture : IAsyncLifetime
{
    private PrivateSendmail? _sendmail;
    private MilterHostProcess? _daemon;

    public PrivateSendmail Sendmail => _sendmail ?? throw new InvalidOperationException("not initialised");

    public MilterHostProcess Daemon => _daemon ?? throw new InvalidOperationException("not initialised");

    /// <summary>The sandbox of sendmail, which also holds milterhost's config, socket and database.</summary>
    public string Directory => Sendmail.Directory;

    /// <summary>The milterhost.yaml the daemon runs; files it names are relative to <paramref name="sandbox"/>.</summary>
    protected abstract DaemonConfig Config(string sandbox);

    /// <summary>sendmail's options; <paramref name="milterSocket"/> is what the daemon listens on.</summary>
    protected virtual SendmailOptions SendmailOptions(string milterSocket) => new() { MilterSocket = milterSocket };

    /// <summary>
    /// sendmail's standard aliases plus <paramref name="users"/>: sendmail refuses a user unknown to
    /// its own aliases before the milter hears of it.
    /// </summary>
    protected static IReadOnlyDictionary<string, string> SendmailAliasesWith(params string[] users)
    {
        var aliases = new Dictionary<string, string>(Milter.TestSupport.SendmailOptions.StandardAliases);
        foreach (var user in users)
            aliases[user] = "root";
        return aliases;
    }

    /// <summary>milterhost's log level; its lines go to the shared maillog.</summary>
    protected virtual string LogLevel => "info";

    /// <summary>Writes the files the config names (aliases, ...) into the sandbox before the daemon starts.</summary>
    protected virtual void WriteFiles(string sandbox) { }

    /// <summary>Runs before anything starts (accounts the config names, ...).</summary>
    protected virtual Task PrepareAsync() => Task.CompletedTask;

    /// <summary>Runs once sendmail and the daemon are up.</summary>
    protected virtual Task StartedAsync() => Task.CompletedTask;

    /// <summary>Runs after both are stopped.</summary>
    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        await PrepareAsync();
        _sendmail = await PrivateSendmail.CreateAsync();
        var sandbox = new DaemonSandbox("policy", _sendmail.Directory);
        WriteFiles(sandbox.Directory);
        _daemon = await sandbox.StartAsync(Config(sandbox.Directory) with { Log = $"{{ level: {LogLevel}, syslog: true }}" }, _sendmail.Log);
        await _sendmail.StartAsync(SendmailOptions("unix:" + sandbox.SocketPath));
        await StartedAsync();
    }

    public async Task DisposeAsync()
    {
        if (_daemon is not null)
            await _daemon.DisposeAsync();
        if (_sendmail is not null)
            await _sendmail.DisposeAsync();
        await CleanUpAsync();
    }

    /// <summary>One SMTP session from <paramref name="client"/> (a 127.0.0.0/8 address) with one message, through swaks.</summary>
    public Task<SwaksResult> SendAsync(string client, string from, IReadOnlyList<string> to, string? subject = null, string? helo = null, string? quitAfter = null) =>
        Swaks.RunAsync(new SwaksRequest
        {
            Port = Sendmail.Port,
            LocalInterface = client,
            From = from,
            To = to,
            Helo = helo ?? "client.outside.example",
            Headers = subject is null ? [] : [$"Subject: {subject}"],
            QuitAfter = quitAfter,
        });

    /// <summary>How the decision line names ban rule <paramref name="index"/>: <c>"ban#3 (line 17)"</c> (quoted: it holds spaces), the line found by <paramref name="written"/>.</summary>
    public string BanRule(int index, string written)
    {
        var lines = File.ReadAllLines(Path.Combine(Directory, "milterhost.yaml"));
        var line = Array.FindIndex(lines, l => l.Contains(written, StringComparison.Ordinal)) + 1;
        Assert.True(line > 0, $"no line of milterhost.yaml holds '{written}'");
        return $"\"ban#{index} (line {line})\"";
    }

    /// <summary>Waits for the maillog line of milterhost's decision that <paramref name="matches"/>.</summary>
    public Task<string> DecisionAsync(Func<string, bool> matches) =>
        Sendmail.Log.WaitForLineAsync(l => l.Contains($" milterhost[{Daemon.Pid}]: ", StringComparison.Ordinal)
            && l.Contains(" decision=", StringComparison.Ordinal) && matches(l), TimeSpan.FromSeconds(20));
}
