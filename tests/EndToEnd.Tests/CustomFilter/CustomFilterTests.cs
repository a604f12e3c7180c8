using EndToEnd.Tests.Daemon;
using EndToEnd.Tests.Support;
using Milter.TestSupport;

namespace EndToEnd.Tests.CustomFilter;

/// <summary>
/// examples/CustomFilter — a milterhost executable built outside src/ with a filter of its own,
/// max_recipients, configured in its own YAML section and placed by filters: — behind a real sendmail.
/// </summary>
public sealed class CustomFilterTests
{
    [Fact]
    public async Task The_example_filter_refuses_recipients_beyond_its_limit_and_adds_its_header()
    {
        await using var sendmail = await PrivateSendmail.CreateAsync();
        var sandbox = new DaemonSandbox("custom", sendmail.Directory);
        var config = new DaemonConfig
        {
            Log = "{ level: info, syslog: true }",
            Extra = "max_recipients: { max: 2, add_header: true }\nfilters: [relay, ban, max_recipients]\n",
        };
        await using var daemon = await MilterHostProcess.StartAsync(sandbox.Write(config), sendmail.Log, launcher: Launcher,
            environment: new Dictionary<string, string> { ["CUSTOM_FILTER_DLL"] = Path.Combine(AppContext.BaseDirectory, "customfilter.dll") });
        await sendmail.StartAsync(new SendmailOptions { MilterSocket = "unix:" + sandbox.SocketPath });

        var result = await Swaks.RunAsync(new SwaksRequest
        {
            Port = sendmail.Port,
            LocalInterface = "127.0.0.5",
            From = "someone@outside.example",
            To = ["alice@example.com", "bob@example.com", "carol@example.com"],
            Helo = "client.outside.example",
        });

        Assert.Equal(
            ["250 2.1.5 <alice@example.com>... Recipient ok", "250 2.1.5 <bob@example.com>... Recipient ok", "452 4.5.3 Too many recipients"],
            result.RepliesTo("RCPT").Select(r => r.Text));
        var queued = sendmail.ReadQueuedMessage(result.QueueId!);
        Assert.Equal(["alice@example.com", "bob@example.com"], queued.Recipients);
        Assert.Equal(["2"], queued.HeaderValues("X-Recipients"));
        await sendmail.Log.WaitForLineAsync(l => l.Contains($"[{daemon.Pid}]: ", StringComparison.Ordinal)
            && l.Contains("decision=tempfail stage=rcpt client=[127.0.0.5] from=<someone@outside.example> to=<carol@example.com> filter=max_recipients rule=\"max_recipients (2)\" reply=\"452 4.5.3 Too many recipients\"",
                StringComparison.Ordinal), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task The_examples_check_config_prints_its_filters_section_with_the_defaults_filled_in()
    {
        await using var sendmail = await PrivateSendmail.CreateAsync();
        var sandbox = new DaemonSandbox("custom-check", sendmail.Directory);
        var path = sandbox.Write(new DaemonConfig { Extra = "max_recipients: { max: 2, mode: monitor }\nfilters: [relay, ban, max_recipients]\n" });
        var result = await Tool.RunAsync(MilterHostProcess.DotnetHost,
            [Path.Combine(AppContext.BaseDirectory, "customfilter.dll"), "check-config", "--config", path], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("\nmax_recipients:\n  mode: monitor\n  max: 2\n  add_header: false\n", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("", result.Stderr);
    }

    /// <summary>
    /// Runs the example's executable where the stock one would be: skips the stock command up to
    /// <c>run</c> and execs <c>dotnet customfilter.dll run ...</c> in its place.
    /// </summary>
    private static IReadOnlyList<string> Launcher =>
    [
        "sh", "-c", "while [ \"$1\" != run ]; do shift; done; exec \"$0\" \"$CUSTOM_FILTER_DLL\" \"$@\"", MilterHostProcess.DotnetHost,
    ];
}
