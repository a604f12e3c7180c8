using System.Net.Sockets;
using MilterHost.Listening;
using MilterHost.Native;

namespace MilterHost.Tests.Listening;

/// <summary>
/// The Unix socket the daemon binds, against real files in a temporary folder: what may be
/// replaced at the socket path (a stale socket only), and the mode and group the socket is born with.
/// </summary>
public sealed class ListenerBinderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string SocketPath => _dir.Combine("milter.sock");

    [Fact]
    public void A_regular_file_at_the_socket_path_is_left_intact_and_the_bind_refused()
    {
        // listen: unix:/var/lib/milterhost/milterhost.db, a typo that once deleted the database.
        var database = _dir.Combine("milterhost.db");
        File.WriteAllText(database, "SQLite format 3\0 the greylist");

        var error = Assert.Throws<ListenerException>(() => ListenerBinder.BindUnix(database, "0660", null));

        Assert.Equal(
            $"{database} is a regular file (29 bytes), not a socket; milterhost replaces only a stale socket there. Check listen: (a typo?) or move it away",
            error.Message);
        Assert.Equal("SQLite format 3\0 the greylist", File.ReadAllText(database));
    }

    [Fact]
    public void A_socket_folder_that_cannot_be_made_is_refused_naming_the_setting_and_the_folder()
    {
        // A path through a regular file: its folder cannot be made, even by root.
        var file = _dir.Combine("not-a-folder");
        File.WriteAllText(file, "x");
        var folder = Path.Combine(file, "run");

        var error = Assert.Throws<ListenerException>(() => ListenerBinder.BindUnix(Path.Combine(folder, "milter.sock"), "0660", null));

        Assert.StartsWith($"listen: cannot create the folder {folder} (", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("); create it, or correct the path", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_directory_at_the_socket_path_is_left_alone()
    {
        Directory.CreateDirectory(SocketPath);
        File.WriteAllText(Path.Combine(SocketPath, "inside"), "x");

        var error = Assert.Throws<ListenerException>(() => ListenerBinder.BindUnix(SocketPath, "0660", null));

        Assert.StartsWith($"{SocketPath} is a directory, not a socket;", error.Message, StringComparison.Ordinal);
        Assert.Equal("x", File.ReadAllText(Path.Combine(SocketPath, "inside")));
    }

    [Fact]
    public void A_symbolic_link_at_the_socket_path_is_left_alone_with_its_target()
    {
        var target = _dir.Combine("target");
        File.WriteAllText(target, "keep me");
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.CreateSymbolicLink(SocketPath, target);

        var error = Assert.Throws<ListenerException>(() => ListenerBinder.BindUnix(SocketPath, "0666", null));

        Assert.StartsWith($"{SocketPath} is a symbolic link to {target}, not a socket;", error.Message, StringComparison.Ordinal);
        Assert.Equal(target, new FileInfo(SocketPath).LinkTarget);
        Assert.Equal(("keep me", UnixFileMode.UserRead | UnixFileMode.UserWrite), (File.ReadAllText(target), File.GetUnixFileMode(target)));
    }

    [Fact]
    public void A_stale_socket_is_replaced_and_a_live_one_refused()
    {
        // What a crash leaves: the socket file with nothing listening on it. (Disposing a socket
        // removes the file it bound, so it is moved away from there first.)
        using (var crashed = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            crashed.Bind(new UnixDomainSocketEndPoint(_dir.Combine("crashed.sock")));
            File.Move(_dir.Combine("crashed.sock"), SocketPath);
        }
        Assert.Equal(FileKind.Socket, FileEntry.OfPath(SocketPath).Kind);

        using var listener = ListenerBinder.BindUnix(SocketPath, "0660", null);
        var error = Assert.Throws<ListenerException>(() => ListenerBinder.BindUnix(SocketPath, "0660", null));

        Assert.StartsWith($"another milter is already listening on {SocketPath};", error.Message, StringComparison.Ordinal);
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(SocketPath));
    }

    [Fact]
    public async Task A_live_milter_whose_backlog_is_full_is_refused_not_taken_for_stale()
    {
        // A daemon so busy that its accept queue is full is alive: its socket must not be unlinked
        // (it would go on running, deaf), and the probe must not wait for a place in that queue.
        using var busy = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        busy.Bind(new UnixDomainSocketEndPoint(SocketPath));
        busy.Listen(1);
        var waiting = new List<Socket>();
        try
        {
            // Never accepted: fill the queue until a connection attempt would have to wait.
            while (true)
            {
                var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
                waiting.Add(client);
                try
                {
                    client.Connect(new UnixDomainSocketEndPoint(SocketPath));
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
                {
                    break;
                }
                Assert.True(waiting.Count < 1000, "the accept queue never filled");
            }

            var probe = Task.Run(() => Assert.Throws<ListenerException>(() => ListenerBinder.BindUnix(SocketPath, "0660", null)));
            var error = await probe.WaitAsync(TimeSpan.FromSeconds(20));

            Assert.StartsWith($"another milter is already listening on {SocketPath};", error.Message, StringComparison.Ordinal);
            Assert.Equal(FileKind.Socket, FileEntry.OfPath(SocketPath).Kind);
        }
        finally
        {
            foreach (var client in waiting)
                client.Dispose();
        }
    }

    [Theory]
    [InlineData("0660")]
    [InlineData("0600")]
    [InlineData("0666")]
    public void The_socket_is_born_with_the_mode_and_group_and_the_process_umask_stays(string mode)
    {
        var umask = ProcessUmask();
        var mail = Posix.FindGroup("mail") ?? throw new InvalidOperationException("no group 'mail' on this machine");

        using var listener = ListenerBinder.BindUnix(SocketPath, mode, "mail");

        var entry = FileEntry.OfPath(SocketPath);
        Assert.Equal((FileKind.Socket, (UnixFileMode)Convert.ToInt32(mode, 8), mail), (entry.Kind, entry.Permissions, entry.Group));
        Assert.Equal(umask, ProcessUmask());
    }

    [Fact]
    public void An_unknown_group_is_refused_before_anything_is_created()
    {
        var error = Assert.Throws<ListenerException>(() => ListenerBinder.BindUnix(SocketPath, "0660", "no-such-group-here"));

        Assert.Equal("socket.group: no group named 'no-such-group-here'", error.Message);
        Assert.False(Path.Exists(SocketPath));
    }

    private static string ProcessUmask() =>
        File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("Umask:", StringComparison.Ordinal));
}
