using System.Diagnostics;
using Milter.Protocol.Replies;
using Milter.Protocol.Wire;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>
/// The real <c>milterhost run</c> as a child process: the Unix socket it creates, a message through
/// it, a clean stop on SIGTERM, stale socket recovery and a second instance refused.
/// </summary>
public sealed class DaemonLifecycleTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task Starts_serves_a_message_and_stops_cleanly_on_a_stop_signal(string signal)
    {
        using var sandbox = new DaemonSandbox("lifecycle");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig());

        Assert.True(File.Exists(sandbox.SocketPath), "socket file missing");
        Assert.Equal(
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite,
            File.GetUnixFileMode(sandbox.SocketPath));

        var answers = await Mta.SendMessageAsync(sandbox.Endpoint);
        Assert.Equal(VerdictKind.Continue, answers.Rcpt!.Kind);
        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);

        daemon.Signal(signal);
        Assert.Equal(0, await daemon.WaitForExitAsync(Bound));
        Assert.False(File.Exists(sandbox.SocketPath), "the socket file outlived a clean exit");
        Assert.Contains(daemon.Output, l => l.EndsWith(" stopped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Signals_blocked_by_the_parent_are_unblocked_so_reload_and_stop_still_work()
    {
        using var sandbox = new DaemonSandbox("sigmask");
        // A parent that blocks SIGHUP, SIGINT and SIGTERM and execs the daemon: the mask is inherited.
        string[] blocking = ["perl", "-MPOSIX", "-e",
            "sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGHUP, SIGINT, SIGTERM)) or die; exec @ARGV or die"];
        await using var daemon = await sandbox.StartAsync(new DaemonConfig(), launcher: blocking);
        Assert.Contains(daemon.Output, l => l == "milterhost: SIGHUP, SIGINT, SIGTERM were blocked by the parent process; unblocked");

        daemon.Signal("HUP");
        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains("(generation 2)", StringComparison.Ordinal), Bound), string.Join('\n', daemon.Output));
        daemon.Signal("TERM");
        Assert.Equal(0, await daemon.WaitForExitAsync(Bound));
    }

    [Fact]
    public async Task Socket_gets_the_configured_mode_and_group()
    {
        using var sandbox = new DaemonSandbox("sockmode");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig { Socket = "{ mode: \"0660\", group: mail }" });

        Assert.Equal("660 mail", await StatAsync(sandbox.SocketPath, "%a %G"));
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced_and_a_second_instance_is_refused()
    {
        using var sandbox = new DaemonSandbox("stale");
        // What a crash leaves: a socket file nobody listens on.
        await using (var crashed = await sandbox.StartAsync(new DaemonConfig()))
        {
            crashed.Signal("KILL");
            await crashed.WaitForExitAsync(Bound);
        }
        Assert.True(File.Exists(sandbox.SocketPath), "SIGKILL left no socket file behind");

        await using var first = await sandbox.StartAsync(new DaemonConfig());
        Assert.Contains(first.Output, l => l.Contains(" started: ", StringComparison.Ordinal));

        var secondConfig = sandbox.Write(new DaemonConfig(), Path.Combine(sandbox.Directory, "second.yaml"));
        var (exitCode, _, stderr) = await MilterHostProcess.RunToEndAsync(["run", "--config", secondConfig], Bound);

        Assert.Equal(1, exitCode);
        Assert.Contains($"milterhost: not starting: another milter is already listening on {sandbox.SocketPath}; stop it first", stderr, StringComparison.Ordinal);
        Assert.False(first.HasExited);
        var answers = await Mta.SendMessageAsync(sandbox.Endpoint);
        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);
        Assert.True(File.Exists(sandbox.SocketPath), "the refused instance removed the running one's socket");
    }

    private static async Task<string> StatAsync(string path, string format)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", format, path]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var text = await stat.StandardOutput.ReadToEndAsync();
        await stat.WaitForExitAsync();
        return text.Trim();
    }
}
