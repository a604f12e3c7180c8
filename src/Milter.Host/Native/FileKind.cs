namespace MilterHost.Native;

/// <summary>What a directory entry is, as <c>lstat</c> or <c>fstat</c> sees it (a symbolic link is not followed).</summary>
internal enum FileKind { Missing, Regular, Directory, SymbolicLink, Fifo, Socket, CharacterDevice, BlockDevice, Other }

/// <summary>The file type bits of <c>st_mode</c> and their names in messages.</summary>
internal static class FileKinds
{
    /// <summary>The kind the type bits (<c>S_IFMT</c>) of <paramref name="mode"/> name.</summary>
    public static FileKind Of(uint mode) => (mode & 0xF000) switch
    {
        0x8000 => FileKind.Regular,         // S_IFREG
        0x4000 => FileKind.Directory,       // S_IFDIR
        0xA000 => FileKind.SymbolicLink,    // S_IFLNK
        0x1000 => FileKind.Fifo,            // S_IFIFO
        0xC000 => FileKind.Socket,          // S_IFSOCK
        0x2000 => FileKind.CharacterDevice, // S_IFCHR
        0x6000 => FileKind.BlockDevice,     // S_IFBLK
        _ => FileKind.Other,
    };

    /// <summary>"a regular file", "a FIFO", ... for a message to the postmaster.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Missing => "nothing",
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.Fifo => "a FIFO",
        FileKind.Socket => "a socket",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        _ => "a file of an unknown type",
    };
}
