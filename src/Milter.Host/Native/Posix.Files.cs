using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace MilterHost.Native;

/// <summary>The file calls the mailbox locks and the log reader need, through Tmds.LibC.</summary>
internal static unsafe partial class Posix
{
    // Open file description locks (Linux 3.15+): they conflict with classic POSIX locks of other
    // processes, as a classic lock would, and also with this process's own, which a classic lock does
    // not; and closing another descriptor of the file does not drop them. l_pid must be 0.
    private const int F_OFD_SETLK = 37;

    public readonly record struct FileId(ulong Device, ulong Inode);

    /// <param name="Permissions">The permission bits of st_mode (07777).</param>
    /// <param name="Links">st_nlink: more than one for a file hard-linked under another name too.</param>
    public readonly record struct Status(FileId Id, long Size, FileKind Kind, DateTimeOffset Modified, uint Owner, uint Group, ushort Permissions, ulong Links = 1)
    {
        public bool Regular => Kind == FileKind.Regular;
    }

    public static string Message(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>
    /// Opens with O_NOFOLLOW and O_NONBLOCK: a spool entry that is a symlink is refused, not followed, and
    /// one that became a FIFO or device since it was looked at does not block the open (the caller checks
    /// with fstat what it got). O_NONBLOCK changes nothing for a regular file.
    /// </summary>
    public static int Open(string path, int flags, ushort mode, out int errno)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* p = bytes)
        {
            do
            {
                fd = open(p, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode);
                errno = fd < 0 ? LibC.errno : 0;
            }
            while (fd < 0 && errno == EINTR);
        }
        return fd;
    }

    public static void Close(int fd) => close(fd);

    public static bool TryStatus(int fd, out Status status)
    {
        stat buffer;
        if (fstat(fd, &buffer) != 0)
        {
            status = default;
            return false;
        }
        status = ToStatus(buffer);
        return true;
    }

    /// <summary>faccessat(2) with W_OK for the effective ids: whether this process may write <paramref name="path"/> (its permissions, a read-only mount).</summary>
    public static bool MayWrite(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            return faccessat(AT_FDCWD, p, W_OK, AT_EACCESS) == 0;
    }

    /// <summary>lstat: the entry itself, not what a symlink points to.</summary>
    public static bool TryStatusOfPath(string path, out Status status) => TryStatusOfPath(path, out status, out _);

    /// <summary>lstat, with the errno when it fails (ENOENT: nothing there).</summary>
    public static bool TryStatusOfPath(string path, out Status status, out int errno)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        stat buffer;
        fixed (byte* p = bytes)
        {
            if (lstat(p, &buffer) != 0)
            {
                errno = LibC.errno;
                status = default;
                return false;
            }
        }
        errno = 0;
        status = ToStatus(buffer);
        return true;
    }

    /// <summary>Gives a file we created the owner, group and permissions it is to have; 0 or the errno.</summary>
    public static int SetOwnerAndMode(int fd, uint owner, uint group, ushort permissions)
    {
        if (fchown(fd, owner, group) != 0)
            return LibC.errno;
        return fchmod(fd, permissions) == 0 ? 0 : LibC.errno;
    }

    /// <summary>mkdir(2): 0, or the errno (EEXIST when anything has the name already, a link included).</summary>
    public static int MakeDirectory(string path, ushort mode)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            return mkdir(p, mode) == 0 ? 0 : LibC.errno;
    }

    public static int Unlink(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            return unlink(p) == 0 ? 0 : LibC.errno;
    }

    /// <summary>Writes all of <paramref name="data"/>, across short writes and EINTR; 0 or the errno.</summary>
    public static int Write(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* start = data)
        {
            var p = start;
            var left = data.Length;
            while (left > 0)
            {
                var written = (long)write(fd, p, (size_t)left);
                if (written < 0)
                {
                    var errno = LibC.errno;
                    if (errno == EINTR)
                        continue;
                    return errno;
                }
                p += written;
                left -= (int)written;
            }
        }
        return 0;
    }

    /// <summary>One read (across EINTR): the bytes read, 0 at the end, or -1.</summary>
    public static int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var count = (long)read(fd, p, (size_t)buffer.Length);
                if (count >= 0 || LibC.errno != EINTR)
                    return (int)count;
            }
        }
    }

    /// <summary>ftruncate (across EINTR); 0 or the errno.</summary>
    public static int Truncate(int fd, long length)
    {
        while (ftruncate(fd, length) != 0)
        {
            var errno = LibC.errno;
            if (errno != EINTR)
                return errno;
        }
        return 0;
    }

    /// <summary>fsync; 0 or the errno.</summary>
    public static int Sync(int fd) => fsync(fd) == 0 ? 0 : LibC.errno;

    /// <summary>
    /// A whole-file lock (F_RDLCK or F_WRLCK) without waiting. Returns 0, or EAGAIN/EACCES while another
    /// process holds a conflicting lock, or another errno.
    /// </summary>
    public static int TryLock(int fd, short type)
    {
        var request = new flock { l_type = type, l_whence = (short)SEEK_SET, l_start = 0, l_len = 0, l_pid = 0 };
        if (fcntl(fd, F_OFD_SETLK, &request) == 0)
            return 0;
        var errno = LibC.errno;
        if (errno != EINVAL)
            return errno;
        // A kernel without OFD locks: the classic lock still excludes other processes.
        request.l_pid = 0;
        return fcntl(fd, F_SETLK, &request) == 0 ? 0 : LibC.errno;
    }

    private const int LockShared = 1, LockExclusive = 2, LockNonBlocking = 4;

    /// <summary>
    /// A BSD whole-file lock (flock(2)), shared or exclusive, without waiting: on Linux it is
    /// independent of the fcntl lock above, and some mail programs take only this one. Returns 0, or
    /// EAGAIN (EWOULDBLOCK) while another holds a conflicting one, or another errno.
    /// </summary>
    public static int TryFlock(int fd, bool exclusive) =>
        FlockCall(fd, (exclusive ? LockExclusive : LockShared) | LockNonBlocking) == 0 ? 0 : Marshal.GetLastPInvokeError();

    private static Status ToStatus(in stat buffer) => new(
        new FileId((ulong)buffer.st_dev, (ulong)buffer.st_ino),
        buffer.st_size,
        FileKinds.Of((uint)buffer.st_mode),
        DateTimeOffset.FromUnixTimeSeconds(buffer.st_mtim.tv_sec).AddTicks(buffer.st_mtim.tv_nsec / 100),
        (uint)buffer.st_uid,
        (uint)buffer.st_gid,
        (ushort)((uint)buffer.st_mode & 0xFFF),
        (ulong)buffer.st_nlink);
}
