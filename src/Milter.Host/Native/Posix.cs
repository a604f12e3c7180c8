using System.Runtime.InteropServices;
using Milter.Filters.Recipients;

namespace MilterHost.Native;

/// <summary>The few libc calls Tmds.LibC does not bind: group lookup through NSS (users: <see cref="LocalAccounts"/>), chown, initgroups, setfsgid, flock.</summary>
internal static partial class Posix
{
    [StructLayout(LayoutKind.Sequential)]
    private struct GroupEntry
    {
        public IntPtr Name;
        public IntPtr Password;
        public uint Gid;
        public IntPtr Members;
    }

    [LibraryImport("libc", EntryPoint = "getgrnam_r", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int GetGrNamR(string name, out GroupEntry entry, [Out] byte[] buffer, nuint bufferLength, out IntPtr result);

    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Chown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "initgroups", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int InitGroups(string user, uint group);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int FlockCall(int fd, int operation);

    /// <summary>
    /// Sets the group id the calling thread creates files with (Linux: per thread, unlike setgid) and
    /// returns the previous one; the kernel refuses silently, so read it back to know.
    /// </summary>
    [LibraryImport("libc", EntryPoint = "setfsgid")]
    public static partial int SetFsGid(uint group);

    /// <summary>Looks a user up through NSS (files, LDAP, ...); null when unknown or when the lookup fails.</summary>
    public static LocalAccount? FindUser(string name)
    {
        if (string.IsNullOrEmpty(name))
            return null;
        try
        {
            return LocalAccounts.Find(name);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Looks a group's id up through NSS; null when unknown.</summary>
    public static uint? FindGroup(string name)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var rc = GetGrNamR(name, out var entry, buffer, (nuint)buffer.Length, out var result);
            if (rc == 34 /* ERANGE */ && buffer.Length < 1024 * 1024)
            {
                buffer = new byte[buffer.Length * 4];
                continue;
            }
            if (rc != 0 || result == IntPtr.Zero)
                return null;
            return entry.Gid;
        }
    }
}
