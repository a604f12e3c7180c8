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
    public static unsafe FileIdentity? Of(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        Tmds.Linux.stat buffer;
        fixed (byte* p = bytes)
        {
            if (stat(p, &buffer) != 0)
                return null;
        }
        return new FileIdentity(buffer.st_dev, buffer.st_ino);
    }
}
