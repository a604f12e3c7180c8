using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace MilterHost.Native;

/// <summary>The type, owner and permission bits of one file, from <c>lstat</c> or <c>fstat</c>.</summary>
internal readonly record struct FileEntry(FileKind Kind, uint Owner, uint Group, UnixFileMode Permissions, long Size)
{
    /// <summary><c>lstat</c>: the entry itself, never what a symbolic link points to. Missing when there is none; other errors throw.</summary>
    public static unsafe FileEntry OfPath(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        stat buffer;
        fixed (byte* p = bytes)
        {
            if (lstat(p, &buffer) != 0)
            {
                var errno = LibC.errno;
                if (errno == ENOENT)
                    return default;
                throw new IOException($"cannot look at {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
        return From(buffer);
    }

    /// <summary><c>fstat</c> of an open descriptor (an <c>O_PATH</c> one included).</summary>
    public static unsafe bool TryOfDescriptor(int fd, out FileEntry entry)
    {
        stat buffer;
        if (fstat(fd, &buffer) != 0)
        {
            entry = default;
            return false;
        }
        entry = From(buffer);
        return true;
    }

    /// <summary>For a message to the postmaster: "a regular file (1234 bytes)", "a directory", "a symbolic link to /etc/shadow".</summary>
    public string Describe(string path) => Kind switch
    {
        FileKind.Missing => "nothing",
        FileKind.Socket => "a socket",
        FileKind.Regular => $"a regular file ({Size} bytes)",
        FileKind.Directory => "a directory",
        FileKind.SymbolicLink => $"a symbolic link to {LinkTarget(path)}",
        FileKind.Fifo => "a FIFO",
        FileKind.Device => "a device",
        _ => "something other than a socket",
    };

    private static string LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget ?? "?";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static FileEntry From(in stat buffer)
    {
        var mode = (uint)buffer.st_mode;
        var kind = (mode & (uint)S_IFMT) switch
        {
            var t when t == (uint)S_IFSOCK => FileKind.Socket,
            var t when t == (uint)S_IFREG => FileKind.Regular,
            var t when t == (uint)S_IFDIR => FileKind.Directory,
            var t when t == (uint)S_IFLNK => FileKind.SymbolicLink,
            var t when t == (uint)S_IFIFO => FileKind.Fifo,
            var t when t == (uint)S_IFCHR || t == (uint)S_IFBLK => FileKind.Device,
            _ => FileKind.Other,
        };
        return new FileEntry(kind, (uint)buffer.st_uid, (uint)buffer.st_gid, (UnixFileMode)(mode & 0x1FF), buffer.st_size);
    }
}
