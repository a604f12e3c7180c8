using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;
using MilterHost.Native;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace MilterHost.Listening;

/// <summary>
/// Creates a Unix socket file with its mode and group set as the kernel makes it, and checks the
/// result without following a symbolic link: nothing is changed by path once the file exists.
/// </summary>
internal static class UnixSocketCreation
{
    /// <summary>
    /// Binds and listens on a thread of its own, which takes a umask of its own
    /// (<c>unshare(CLONE_FS)</c>) so that the rest of the process never creates a file under it,
    /// and, as root, the file-system group id <paramref name="gid"/>, so the file is born with the group.
    /// </summary>
    public static Socket Bind(string path, UnixFileMode permissions, uint? gid, int backlog)
    {
        Socket? bound = null;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                bound = BindHere(path, permissions, gid, backlog);
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            Name = "milterhost socket bind",
            IsBackground = true,
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return bound!;
    }

    /// <summary>
    /// Checks through an <c>O_PATH|O_NOFOLLOW</c> descriptor that <paramref name="path"/> is still the
    /// socket just bound (a socket owned by us) with <paramref name="permissions"/>, and gives it to
    /// <paramref name="gid"/> through that descriptor when the bind could not (not root, or a
    /// set-group-id folder). On failure the socket file is removed, unless it is no longer ours.
    /// </summary>
    public static unsafe void Check(string path, UnixFileMode permissions, uint? gid, string? group)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* p = bytes)
            fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd < 0)
            throw new ListenerException($"cannot check the socket {path} after bind: {Marshal.GetPInvokeErrorMessage(errno)}");
        try
        {
            if (!FileEntry.TryOfDescriptor(fd, out var entry))
                throw Failed(path, $"cannot check the socket {path} after bind: {Marshal.GetPInvokeErrorMessage(errno)}");
            if (entry.Kind != FileKind.Socket || entry.Owner != geteuid())
                throw new ListenerException($"{path} was replaced while the socket was being set up (it is now {entry.Describe(path)})");
            if (entry.Permissions != permissions)
                throw Failed(path, $"the socket {path} came out with mode {FileEntry.Octal(entry.Permissions)}, not socket.mode {FileEntry.Octal(permissions)} (a default ACL on its folder?)");
            if (gid is { } g && entry.Group != g)
            {
                var empty = (byte)0;
                if (fchownat(fd, &empty, uint.MaxValue, g, AT_EMPTY_PATH) != 0)
                    throw Failed(path, $"cannot give the socket {path} to group {group}: {Marshal.GetPInvokeErrorMessage(errno)} (milterhost must be root or a member of {group})");
            }
        }
        finally
        {
            close(fd);
        }
    }

    private static Socket BindHere(string path, UnixFileMode permissions, uint? gid, int backlog)
    {
        // From here the umask is this thread's own. Should a seccomp filter refuse, it stays the
        // process's for the moment of the bind and is put back right after.
        _ = unshare(CLONE_FS);
        var previousMask = umask((mode_t)((uint)~permissions & 0x1FF));
        int? previousGroup = null;
        try
        {
            if (gid is { } g && geteuid() == 0)
            {
                previousGroup = Posix.SetFsGid(g);
                if (Posix.SetFsGid(g) != g)
                    throw new ListenerException($"cannot create the socket {path} with group id {g}: setfsgid was refused");
            }
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Bind(new UnixDomainSocketEndPoint(path));
                socket.Listen(backlog);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                throw new ListenerException($"cannot listen on unix:{path}: {e.Message}", e);
            }
        }
        finally
        {
            if (previousGroup is { } back)
                Posix.SetFsGid((uint)back);
            umask(previousMask);
        }
    }

    // The socket is ours and wrong: remove it so that no half-set-up socket stays behind.
    private static ListenerException Failed(string path, string message)
    {
        File.Delete(path);
        return new ListenerException(message);
    }

}
