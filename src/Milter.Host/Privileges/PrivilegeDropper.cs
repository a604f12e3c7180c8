using System.Runtime.InteropServices;
using Milter.Filters.Recipients;
using MilterHost.Native;
using static Tmds.Linux.LibC;

namespace MilterHost.Privileges;

/// <summary>Thrown when privileges cannot be dropped as configured; the daemon refuses to run.</summary>
internal sealed class PrivilegeException(string message) : Exception(message);

/// <summary>
/// Drops root to the configured user after the socket is bound: supplementary groups first
/// (initgroups), then the group, then the user, then a check that root cannot be regained.
/// </summary>
internal static class PrivilegeDropper
{
    /// <summary>
    /// Adds 027 to the umask: the database and the log hold every sender and recipient, so the files
    /// the daemon and the admin commands create are readable by the daemon's group at most, as the
    /// packaged unit's UMask=0027 makes them, also when started by hand.
    /// </summary>
    public static void KeepFilesPrivate() =>
        _ = umask(umask(0b000_111_111) | 0b000_010_111); // (old | 027), never looser meanwhile

    /// <summary>True when running with effective uid 0.</summary>
    public static bool IsRoot => geteuid() == 0;

    /// <summary>
    /// Refuses, before anything is created or bound, what <see cref="Apply"/> would refuse: root
    /// without <c>user:</c>, an account that does not exist or has uid 0, another user asked for
    /// without root. Returns the account to drop to, or null when there is nothing to drop.
    /// </summary>
    public static LocalAccount? Check(string? user)
    {
        if (!IsRoot)
        {
            var me = Environment.UserName;
            if (user is not null && user != "root" && user != me)
            {
                var u = Posix.FindUser(user);
                if (u is null || u.Uid != geteuid())
                    throw new PrivilegeException($"user: {user} is configured, but milterhost runs as {me} and cannot switch users without root");
            }
            return null;
        }
        if (user is null)
            throw new PrivilegeException("refusing to run filters as root: set user: to an unprivileged account (or write user: root to insist)");
        if (user == "root")
            return null;
        var target = Posix.FindUser(user) ?? throw new PrivilegeException($"user: no account named '{user}'");
        if (target.Uid == 0)
            throw new PrivilegeException($"user: '{user}' has uid 0; choose an unprivileged account");
        return target;
    }

    /// <summary>
    /// Applies the <c>user:</c> setting. As root: drop to that user (or stay root only when written
    /// <c>user: root</c>). As anyone else: nothing to do, unless a different user was asked for.
    /// Returns a line for the log.
    /// </summary>
    public static string Apply(string? user)
    {
        var target = Check(user);
        if (!IsRoot)
            return $"running as {Environment.UserName} (uid {geteuid()})";
        if (target is null)
            return "running as root, as user: root asks";

        if (Posix.InitGroups(target.Name, target.Gid) != 0)
            throw new PrivilegeException($"initgroups({target.Name}) failed: errno {Marshal.GetLastPInvokeError()}");
        if (setgid(target.Gid) != 0)
            throw new PrivilegeException($"setgid({target.Gid}) failed: errno {Marshal.GetLastPInvokeError()}");
        if (setuid(target.Uid) != 0)
            throw new PrivilegeException($"setuid({target.Uid}) failed: errno {Marshal.GetLastPInvokeError()}");

        // Verify: we are who we asked to be, and root is gone for good.
        if (getuid() != target.Uid || geteuid() != target.Uid || getgid() != target.Gid || getegid() != target.Gid)
            throw new PrivilegeException("privilege drop did not take effect");
        if (setuid(0) == 0)
            throw new PrivilegeException("privilege drop is reversible (setuid(0) succeeded); refusing to run");
        return $"dropped privileges to {target.Name} (uid {target.Uid}, gid {target.Gid})";
    }
}
