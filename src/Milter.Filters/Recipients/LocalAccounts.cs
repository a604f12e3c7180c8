using System.Runtime.InteropServices;
using Tmds.Linux;

namespace Milter.Filters.Recipients;

/// <summary>
/// Local accounts as the system knows them: getpwnam_r(3) and getpwuid_r(3), so every NSS source in
/// nsswitch.conf (files, LDAP, sss, systemd) counts. Tmds.LibC carries the errno values but not these
/// calls, hence the imports here; the host's privilege drop looks its account up through <see cref="Find"/> too.
/// </summary>
public sealed partial class LocalAccounts
{
    private const int InitialBuffer = 1024;
    private const int MaxBuffer = 1 << 20;

    /// <summary>True when an account of that exact name exists.</summary>
    /// <exception cref="IOException">The lookup failed (an NSS source is down): not the same as "no such user".</exception>
    public bool Exists(string name) => Find(name) is not null;

    /// <summary>The uid of the account of that exact name; null when there is none.</summary>
    /// <exception cref="IOException">The lookup failed (an NSS source is down): not the same as "no such user".</exception>
    public uint? UidOf(string name) => Find(name)?.Uid;

    /// <summary>The account of that exact name; null when there is none.</summary>
    /// <exception cref="IOException">The lookup failed (an NSS source is down): not the same as "no such user".</exception>
    public static LocalAccount? Find(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('\0', StringComparison.Ordinal))
            return null;
        return Lookup($"getpwnam_r(\"{name}\")", (byte[] buffer, out PasswdEntry entry, out nint result) =>
            GetPasswordEntry(name, out entry, buffer, (nuint)buffer.Length, out result));
    }

    /// <summary>The name of the account with that uid; null when there is none.</summary>
    /// <exception cref="IOException">The lookup failed (an NSS source is down): not the same as "no such user".</exception>
    public string? NameOf(uint uid) =>
        Lookup($"getpwuid_r({uid})", (byte[] buffer, out PasswdEntry entry, out nint result) =>
            GetPasswordEntryByUid(uid, out entry, buffer, (nuint)buffer.Length, out result))?.Name;

    private delegate int PasswdCall(byte[] buffer, out PasswdEntry entry, out nint result);

    private static LocalAccount? Lookup(string call, PasswdCall lookup)
    {
        for (var size = InitialBuffer; size <= MaxBuffer; size *= 4)
        {
            // Pinned: the entry's strings point into the buffer and are read after the call.
            var buffer = GC.AllocateUninitializedArray<byte>(size, pinned: true);
            var error = lookup(buffer, out var entry, out var result);
            if (error == 0)
                return result == 0 ? null : new LocalAccount(
                    Marshal.PtrToStringUTF8(entry.Name) ?? "", entry.Uid, entry.Gid, Marshal.PtrToStringUTF8(entry.Directory) ?? "/");
            if (error == LibC.ERANGE)
                continue;
            // getpwnam_r(3), getpwuid_r(3): these mean "not found" on glibc and musl, whatever the source.
            if (error == LibC.ENOENT || error == LibC.ESRCH || error == LibC.EBADF || error == LibC.EPERM)
                return null;
            throw new IOException($"{call} failed with errno {error}");
        }
        throw new IOException($"{call}: entry larger than {MaxBuffer} bytes");
    }

    // struct passwd (pwd.h), same field order on every Linux ABI.
    [StructLayout(LayoutKind.Sequential)]
    private struct PasswdEntry
    {
        public nint Name;
        public nint Password;
        public uint Uid;
        public uint Gid;
        public nint Gecos;
        public nint Directory;
        public nint Shell;
    }

    [LibraryImport("libc", EntryPoint = "getpwnam_r", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int GetPasswordEntry(string name, out PasswdEntry entry, [Out] byte[] buffer, nuint bufferLength, out nint result);

    [LibraryImport("libc", EntryPoint = "getpwuid_r")]
    private static partial int GetPasswordEntryByUid(uint uid, out PasswdEntry entry, [Out] byte[] buffer, nuint bufferLength, out nint result);
}
