using System.Diagnostics;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>
/// Started as root, the daemon creates its socket in a folder that the unprivileged user it runs as
/// may own. That user can swap the new socket for a symbolic link at any moment; a chmod or chown
/// by path after bind would then change the link's target (say /etc/shadow) instead.
/// </summary>
public sealed class DaemonSocketRaceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_symbolic_link_swapped_in_after_bind_is_not_followed_and_the_socket_was_born_with_its_mode_and_group()
    {
        AptPackages.EnsureInstalled("strace");
        using var sandbox = new DaemonSandbox("sockrace");
        // Stands in for a file the folder's owner must not get at, such as /etc/shadow.
        var victim = Path.Combine(sandbox.Directory, "victim");
        await File.WriteAllTextAsync(victim, "root:secret\n");
        File.SetUnixFileMode(victim, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var moved = Path.Combine(sandbox.Directory, "moved.sock");
        var config = sandbox.Write(new DaemonConfig { Socket = "{ mode: \"0660\", group: mail }" });

        // strace holds every listen() of the daemon for 1.5 s after it returns: the moment after bind
        // in which the folder's owner moves the socket away and plants a symbolic link in its place.
        string[] launcher = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=listen", "-e", "inject=listen:delay_exit=1500000"];
        await using var daemon = await MilterHostProcess.StartAsync(config, waitUntilReady: false, launcher: launcher);
        var watch = Stopwatch.StartNew();
        while (!Path.Exists(sandbox.SocketPath))
        {
            Assert.True(watch.Elapsed < Bound && !daemon.HasExited, "the socket never appeared:\n" + string.Join('\n', daemon.Output));
            await Task.Delay(2);
        }
        File.Move(sandbox.SocketPath, moved);
        File.CreateSymbolicLink(sandbox.SocketPath, victim);

        // Done with its set-up either way: refused, or started on whatever the path now is.
        await daemon.WaitForOutputAsync(l => l.Contains(" started: ", StringComparison.Ordinal), Bound);

        Assert.Equal(("600 root", "root:secret\n"), (await StatAsync(victim), await File.ReadAllTextAsync(victim)));
        Assert.Equal("660 mail", await StatAsync(moved));
        Assert.Equal(1, await daemon.WaitForExitAsync(Bound));
        Assert.Contains($"milterhost: not starting: {sandbox.SocketPath} was replaced while the socket was being set up (it is now a symbolic link to {victim})",
            daemon.Output);
    }

    private static async Task<string> StatAsync(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%a %G", path]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var text = await stat.StandardOutput.ReadToEndAsync();
        await stat.WaitForExitAsync();
        return text.Trim();
    }
}
