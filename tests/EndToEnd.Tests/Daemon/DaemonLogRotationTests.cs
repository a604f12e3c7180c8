using EndToEnd.Tests.Support;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>
/// The packaged <c>/etc/logrotate.d/milterhost</c>, run by the real logrotate against a running
/// daemon's <c>log.file</c>: the lines after the rotation land in the new file, readable.
/// </summary>
public sealed class DaemonLogRotationTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task The_packaged_logrotate_rule_leaves_a_log_the_daemon_goes_on_writing_without_a_hole()
    {
        // Found in review: copytruncate cut the file the daemon holds open, and its next line was written
        // at the old offset: the new log began with as many NUL bytes as the week's log had, and grep
        // called it a binary file.
        AptPackages.EnsureInstalled("logrotate");
        await using var account = await TestAccounts.CreateAsync("mhrot");
        using var sandbox = new DaemonSandbox("logrotate");
        var logs = Path.Combine(sandbox.Directory, "log");
        Directory.CreateDirectory(logs);
        await RunAsync("chown", $"{account.Name}:{account.Name}", logs);
        var log = Path.Combine(logs, "milterhost.log");
        var rule = (await File.ReadAllTextAsync(Path.Combine(Repository.Root, "packaging", "milterhost.logrotate")))
            .Replace("/var/log/milterhost/", logs + "/", StringComparison.Ordinal)
            .Replace("su milterhost milterhost", $"su {account.Name} {account.Name}", StringComparison.Ordinal);
        Assert.Contains(logs, rule, StringComparison.Ordinal);
        var ruleFile = Path.Combine(sandbox.Directory, "logrotate.conf");
        await File.WriteAllTextAsync(ruleFile, rule);
        await using var daemon = await MilterHostProcess.StartAsync(sandbox.Write(new DaemonConfig
        {
            User = account.Name,
            Database = "sqlite:" + Path.Combine(sandbox.Directory, "data", "milterhost.db"),
            Log = $"{{ level: info, syslog: false, file: {log} }}",
        }), waitUntilReady: false);
        await UntilAsync(() => File.Exists(log) && File.ReadAllText(log).Contains(" started: ", StringComparison.Ordinal));

        await RunAsync("logrotate", "--force", "--state", Path.Combine(sandbox.Directory, "logrotate.state"), ruleFile);
        // Each reload logs "configuration reloaded"; the daemon notices within a second or two that its
        // file was renamed (the lines meanwhile go to .1) and writes a new one.
        await UntilAsync(() =>
        {
            daemon.Signal("HUP");
            return File.Exists(log) && File.ReadAllText(log).Contains("configuration reloaded", StringComparison.Ordinal);
        }, TimeSpan.FromMilliseconds(500));

        var text = await File.ReadAllTextAsync(log);
        Assert.DoesNotContain('\0', text);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}", text); // a line of its own at the start, no hole before it
        Assert.Contains(" started: ", await File.ReadAllTextAsync(log + ".1"), StringComparison.Ordinal);
        Assert.Equal($"640 {account.Name} {account.Name}", (await RunAsync("stat", "-c", "%a %U %G", log)).Trim());
        daemon.Signal("TERM");
        Assert.Equal(0, await daemon.WaitForExitAsync(Bound));
    }

    private static async Task UntilAsync(Func<bool> condition, TimeSpan? pause = null)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not within " + Bound);
            await Task.Delay(pause ?? TimeSpan.FromMilliseconds(50));
        }
    }

    private static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var result = await Tool.RunAsync(program, arguments, Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout + result.Stderr;
    }
}
