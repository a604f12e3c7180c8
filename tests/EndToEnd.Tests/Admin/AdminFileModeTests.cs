using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.Admin;

/// <summary>The files an admin command creates are kept as private as the daemon keeps its own.</summary>
public sealed class AdminFileModeTests
{
    [Fact]
    public async Task A_database_made_by_ban_add_is_no_more_readable_than_one_the_daemon_makes()
    {
        // Found in review: the first `ban add` on a new server (before the daemon ever ran) made the
        // database, which holds every sender and recipient, 0644 with the shell's umask, and SQLite
        // gives its -wal and -shm files the database's mode for good.
        using var sandbox = new DaemonSandbox("adminmode");
        var database = Path.Combine(sandbox.Directory, "milterhost.db");
        var config = sandbox.Write(new DaemonConfig { Database = "sqlite:" + database });

        var (exitCode, _, stderr) = await MilterHostProcess.RunToEndAsync(["ban", "add", "192.0.2.1", "--config", config]);

        Assert.True(exitCode == 0, stderr);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(database));
    }
}
