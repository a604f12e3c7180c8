using System.Text;
using static Tmds.Linux.LibC;

namespace Milter.Filters.Stores;

/// <summary>
/// Which file a path names now (device and inode, from <c>stat</c>, following a link as SQLite does):
/// a database file renamed over ours (a backup put back with <c>mv</c> or rsync) has the same path
/// and another identity.
/// </summary>
internal readonly record struct FileIdentity(ulong Device, ulong Inode)
{
    /// <summary>The file at <paramref name="path"/>; null when there is none or it cannot be looked at.</summary>
    public static FileIdentity? Of(string path) => Of(PathBytes(path));

    /// <summary>The path as <see cref="Of(byte[])"/> takes it: UTF-8, NUL-terminated; made once for a path asked about often.</summary>
    public static byte[] PathBytes(string path) => Encoding.UTF8.GetBytes(path + "\0");

    /// <summary>The file at the path <see cref="PathBytes"/> made; null when there is none or it cannot be looked at.</summary>
    public static unsafe FileIdentity? Of(byte[] path)
    {
        Tmds.Linux.stat buffer;
        fixed (byte* p = path)
        {
            if (stat(p, &buffer) != 0)
                return null;
        }
        return new FileIdentity(buffer.st_dev, buffer.st_ino);
    }
}
