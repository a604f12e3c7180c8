using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace MilterHost.Native;

/// <summary>The type, owner and permission bits of one file, from <c>lstat</c> or <c>fstat</c>.</summary>
internal readonly record struct FileEntry(FileKind Kind, uint Owner, uint Group, UnixFileMode Permissions, long Size)
{
    /// <summary>Permission bits as chmod writes them: <c>0640</c>.</summary>
    public static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

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
        FileKind.Regular => $"a regular file ({Size} bytes)",
        FileKind.SymbolicLink => $"a symbolic link to {LinkTarget(path)}",
        _ => FileKinds.Describe(Kind),
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
        var kind = FileKinds.Of(mode);
        return new FileEntry(kind, (uint)buffer.st_uid, (uint)buffer.st_gid, (UnixFileMode)(mode & 0x1FF), buffer.st_size);
    }
}
