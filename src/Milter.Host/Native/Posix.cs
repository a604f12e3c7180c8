using System.Runtime.InteropServices;

namespace MilterHost.Native;

/// <summary>The few libc calls Tmds.LibC does not bind: user and group lookup through NSS, chown, initgroups, setfsgid.</summary>
internal static partial class Posix
{
    [StructLayout(LayoutKind.Sequential)]
    private struct PasswdEntry
    {
        public IntPtr Name;
        public IntPtr Password;
        public uint Uid;
        public uint Gid;
        public IntPtr Gecos;
        public IntPtr Dir;
        public IntPtr Shell;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct GroupEntry
    {
        public IntPtr Name;
        public IntPtr Password;
        public uint Gid;
        public IntPtr Members;
    }

    [LibraryImport("libc", EntryPoint = "getpwnam_r", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int GetPwNamR(string name, out PasswdEntry entry, [Out] byte[] buffer, nuint bufferLength, out IntPtr result);

    [LibraryImport("libc", EntryPoint = "getgrnam_r", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int GetGrNamR(string name, out GroupEntry entry, [Out] byte[] buffer, nuint bufferLength, out IntPtr result);

    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Chown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "initgroups", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int InitGroups(string user, uint group);

    /// <summary>
    /// Sets the group id the calling thread creates files with (Linux: per thread, unlike setgid) and
    /// returns the previous one; the kernel refuses silently, so read it back to know.
    /// </summary>
    [LibraryImport("libc", EntryPoint = "setfsgid")]
    public static partial int SetFsGid(uint group);

    /// <summary>A user as NSS knows it.</summary>
    public sealed record User(string Name, uint Uid, uint Gid, string Home);

    /// <summary>Looks a user up through NSS (files, LDAP, ...); null when unknown.</summary>
    public static User? FindUser(string name)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var rc = GetPwNamR(name, out var entry, buffer, (nuint)buffer.Length, out var result);
            if (rc == 34 /* ERANGE */ && buffer.Length < 1024 * 1024)
            {
                buffer = new byte[buffer.Length * 4];
                continue;
            }
            if (rc != 0 || result == IntPtr.Zero)
                return null;
            return new User(name, entry.Uid, entry.Gid, Marshal.PtrToStringUTF8(entry.Dir) ?? "/");
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
