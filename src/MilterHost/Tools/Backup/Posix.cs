using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace MilterHost.Tools.Backup;

/// <summary>The few system calls the mailbox locks need, through Tmds.LibC.</summary>
internal static unsafe class Posix
{
    // Open file description locks (Linux 3.15+): they conflict with classic POSIX locks of other
    // processes, as a classic lock would, and also with this process's own, which a classic lock does
    // not; and closing another descriptor of the file does not drop them. l_pid must be 0.
    private const int F_OFD_SETLK = 37;

    public readonly record struct FileId(ulong Device, ulong Inode);

    public readonly record struct Status(FileId Id, long Size, bool Regular, DateTimeOffset Modified);

    public static string Message(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>Opens with O_NOFOLLOW: a spool entry that is a symlink is refused, not followed.</summary>
    public static int Open(string path, int flags, ushort mode, out int errno)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* p = bytes)
        {
            do
            {
                fd = open(p, flags | O_CLOEXEC | O_NOFOLLOW, mode);
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

    /// <summary>lstat: the entry itself, not what a symlink points to.</summary>
    public static bool TryStatusOfPath(string path, out Status status)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        stat buffer;
        fixed (byte* p = bytes)
        {
            if (lstat(p, &buffer) != 0)
            {
                status = default;
                return false;
            }
        }
        status = ToStatus(buffer);
        return true;
    }

    public static int Unlink(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            return unlink(p) == 0 ? 0 : LibC.errno;
    }

    public static int Write(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
            return write(fd, p, (size_t)data.Length) < 0 ? LibC.errno : 0;
    }

    /// <summary>
    /// A whole-file read lock without waiting. Returns 0, or EAGAIN/EACCES while a writer holds a
    /// conflicting lock, or another errno.
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

    private static Status ToStatus(in stat buffer) => new(
        new FileId((ulong)buffer.st_dev, (ulong)buffer.st_ino),
        buffer.st_size,
        ((ushort)buffer.st_mode & (ushort)S_IFMT) == (ushort)S_IFREG,
        DateTimeOffset.FromUnixTimeSeconds(buffer.st_mtim.tv_sec).AddTicks(buffer.st_mtim.tv_nsec / 100));
}
