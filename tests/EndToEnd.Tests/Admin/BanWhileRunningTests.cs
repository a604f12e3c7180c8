using System.Diagnostics;
using EndToEnd.Tests.Daemon;
using Milter.Protocol.Replies;
using Milter.TestSupport;

namespace EndToEnd.Tests.Admin;

/// <summary>
/// The admin commands change the database a running daemon serves from: the daemon polls the
/// store's change counters every two seconds (StoreOptions.ChangePoll), so a ban or allow entry
/// takes effect on the connections that arrive after the next poll, not after the 30 s refresh.
/// </summary>
public sealed class BanWhileRunningTests
{
    private const string Client = "127.0.0.9";

    /// <summary>A poll period and room for a loaded machine.</summary>
    private static readonly TimeSpan Noticed = TimeSpan.FromSeconds(6);

    private static async Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(40))
                break;
            await Task.Delay(100);
        }
        return clock.Elapsed;
    }

    [Fact]
    public async Task Ban_added_and_removed_with_the_binary_reaches_the_running_daemon_within_seconds()
    {
        using var sandbox = new DaemonSandbox("banlive");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig());
        Assert.Equal(VerdictKind.Continue, (await Mta.SendMessageAsync(sandbox.Endpoint, Client)).Connect.Kind);

        var add = await MilterHostProcess.RunToEndAsync(["ban", "add", Client, "--for", "1h", "--config", sandbox.ConfigPath]);
        Assert.Equal(0, add.ExitCode);
        var untilRefused = await WaitUntilAsync(async () =>
            (await Mta.SendMessageAsync(sandbox.Endpoint, Client)).Connect.ToString() == "550 5.7.1 Access denied");
        var remove = await MilterHostProcess.RunToEndAsync(["ban", "remove", Client, "--config", sandbox.ConfigPath]);
        Assert.Equal(0, remove.ExitCode);
        var untilServed = await WaitUntilAsync(async () =>
            (await Mta.SendMessageAsync(sandbox.Endpoint, Client)).Connect.Kind == VerdictKind.Continue);

        Assert.True(untilRefused < Noticed, $"the ban took {untilRefused} to reach the daemon");
        Assert.True(untilServed < Noticed, $"lifting the ban took {untilServed} to reach the daemon");
        Assert.Equal(VerdictKind.Continue, (await Mta.SendMessageAsync(sandbox.Endpoint, "127.0.0.10")).Connect.Kind);
    }

    [Fact]
    public async Task Allow_entry_added_with_the_binary_lets_the_running_daemon_skip_greylisting_within_seconds()
    {
        using var sandbox = new DaemonSandbox("allowlive");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig
        {
            Relay = "{ allow_clients: [] }",
            Greylist = "{ enabled: true, per_message: false, spf_pools: false }",
        });
        var first = await Mta.SendMessageAsync(sandbox.Endpoint, Client, from: "news@partner.example", queueId: "5ATaaa000001");
        Assert.StartsWith("451 4.7.1 ", first.Rcpt!.ToString(), StringComparison.Ordinal);

        var allow = await MilterHostProcess.RunToEndAsync(["greylist", "allow", "partner.example", "--config", sandbox.ConfigPath]);
        Assert.Equal(0, allow.ExitCode);
        var untilPassed = await WaitUntilAsync(async () =>
            (await Mta.SendMessageAsync(sandbox.Endpoint, Client, from: "other@partner.example", queueId: "5ATaaa000002")).Rcpt?.Kind == VerdictKind.Continue);

        Assert.True(untilPassed < Noticed, $"the allow entry took {untilPassed} to reach the daemon");
    }
}
