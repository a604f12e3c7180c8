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
        var output = daemon.Output.ToList();
        var stopping = output.FindIndex(l => l.Contains(" stopping: no new connections", StringComparison.Ordinal));
        var stopped = output.FindIndex(l => l.EndsWith(" stopped", StringComparison.Ordinal));
        Assert.True(stopping >= 0 && stopped > stopping, string.Join('\n', output));
    }

    /// <summary>A parent that blocks the signals (inherited mask) or ignores them (nohup; a shell's background job), then execs the daemon.</summary>
    [Theory]
    [InlineData("sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGHUP, SIGINT, SIGTERM)) or die;", "milterhost: note: the parent process had blocked SIGHUP, SIGINT, SIGTERM; unblocked, so that stop and reload work", "TERM")]
    [InlineData("$SIG{HUP} = $SIG{INT} = 'IGNORE';", "milterhost: note: the parent process (nohup, a background job) had set SIGHUP, SIGINT to be ignored; handled again, so that stop and reload work", "INT")]
    public async Task Signals_the_parent_blocked_or_ignored_still_reload_and_stop(string parent, string said, string stopSignal)
    {
        using var sandbox = new DaemonSandbox("sigparent");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig(), launcher: ["perl", "-MPOSIX", "-e", parent + " exec @ARGV or die"]);
        Assert.Contains(daemon.Output, l => l == said);

        daemon.Signal("HUP");
        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains("(generation 2)", StringComparison.Ordinal), Bound), string.Join('\n', daemon.Output));
        daemon.Signal(stopSignal);
        Assert.Equal(0, await daemon.WaitForExitAsync(Bound));
    }

    [Fact]
    public async Task Started_by_hand_under_umask_022_its_database_is_not_readable_by_others()
    {
        using var sandbox = new DaemonSandbox("filemodes");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig());
        var answers = await Mta.SendMessageAsync(sandbox.Endpoint);

        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);
        var database = Path.Combine(sandbox.Directory, "milterhost.db");
        Assert.Equal(("640", "640"), (await StatAsync(database, "%a"), await StatAsync(database + "-wal", "%a")));
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

    [Fact]
    public async Task A_stop_signal_while_the_stores_open_stops_cleanly_with_status_0()
    {
        using var sandbox = new DaemonSandbox("stopstart");
        // Another process holds the database's write lock: the start waits in StoreService, as it
        // does through a long migration, until systemd stops it (systemctl stop, or its start timeout).
        var database = Path.Combine(sandbox.Directory, "milterhost.db");
        await using var holder = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Pooling=False");
        await holder.OpenAsync();
        await using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "CREATE TABLE held (x); BEGIN EXCLUSIVE; INSERT INTO held VALUES (1);";
            await begin.ExecuteNonQueryAsync();
        }
        await using var daemon = await MilterHostProcess.StartAsync(sandbox.Write(new DaemonConfig()), waitUntilReady: false);
        var opened = Stopwatch.StartNew();
        while (!Directory.EnumerateFiles($"/proc/{daemon.Pid}/fd").Any(fd => new FileInfo(fd).LinkTarget == database))
        {
            Assert.True(opened.Elapsed < Bound && !daemon.HasExited, string.Join('\n', daemon.Output));
            await Task.Delay(20);
        }

        daemon.Signal("TERM");
        await Task.Delay(200);
        await using (var rollback = holder.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
        }

        Assert.Equal(0, await daemon.WaitForExitAsync(Bound));
        Assert.Contains(daemon.Output, l => l.EndsWith("stopped while starting: asked to stop before the start was complete", StringComparison.Ordinal));
        Assert.False(File.Exists(sandbox.SocketPath), "the socket file outlived a stop during the start");
    }

    [Fact]
    public async Task A_regular_file_at_the_socket_path_refuses_the_start_and_stays_intact()
    {
        using var sandbox = new DaemonSandbox("sockfile");
        // listen: pointing at the database by mistake.
        var database = Path.Combine(sandbox.Directory, "milterhost.db");
        var content = "SQLite format 3\0" + new string('x', 4000);
        await File.WriteAllTextAsync(database, content);
        var config = sandbox.Write(new DaemonConfig { Listen = "unix:" + database, Database = "sqlite:" + Path.Combine(sandbox.Directory, "other.db") });

        var (exitCode, _, stderr) = await MilterHostProcess.RunToEndAsync(["run", "--config", config], Bound);

        Assert.Equal(1, exitCode);
        Assert.Contains($"milterhost: not starting: {database} is a regular file (4016 bytes), not a socket; milterhost replaces only a stale socket there.", stderr,
            StringComparison.Ordinal);
        Assert.Equal(content, await File.ReadAllTextAsync(database));
    }

    private static async Task<string> StatAsync(string path, string format)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", format, path]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var text = await stat.StandardOutput.ReadToEndAsync();
        await stat.WaitForExitAsync();
        return text.Trim();
    }
}
