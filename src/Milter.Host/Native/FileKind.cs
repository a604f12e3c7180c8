namespace MilterHost.Native;

/// <summary>What a directory entry is, as <c>lstat</c> or <c>fstat</c> sees it (a symbolic link is not followed).</summary>
internal enum FileKind { Missing, Socket, Regular, Directory, SymbolicLink, Fifo, Device, Other }
