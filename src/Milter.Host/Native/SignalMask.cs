using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace MilterHost.Native;

/// <summary>
/// A process inherits its parent's signal mask and ignored signals across fork and exec. Started by a parent that had
/// SIGHUP, SIGINT or SIGTERM blocked (some supervisors, a thread of a runtime that blocks them),
/// milterhost would never hear a reload or a stop: the handlers would be installed but the
/// signals held pending for ever.
/// </summary>
internal static class SignalMask
{
    // The signals the daemon acts on: reload, and stop (two ways).
    private static readonly (int Signal, string Name)[] StopAndReload = [(SIGHUP, "SIGHUP"), (SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")];

    /// <summary>Unblocks SIGHUP, SIGINT and SIGTERM on the calling thread; returns those that were blocked.</summary>
    public static unsafe IReadOnlyList<string> UnblockStopAndReload()
    {
        sigset_t wanted;
        sigset_t before;
        sigemptyset(&wanted);
        foreach (var (signal, _) in StopAndReload)
            sigaddset(&wanted, signal);
        if (pthread_sigmask(SIG_UNBLOCK, &wanted, &before) != 0)
            return [];
        var blocked = new List<string>(3);
        foreach (var (signal, name) in StopAndReload)
        {
            if (sigismember(&before, signal) == 1)
                blocked.Add(name);
        }
        return blocked;
    }

    /// <summary>
    /// Gives SIGHUP, SIGINT and SIGTERM their default disposition back where the parent set them to be
    /// ignored (<c>nohup</c> ignores SIGHUP, a shell's background job SIGINT); .NET leaves an ignored
    /// signal ignored, and the daemon's own handlers would never run. Returns the ones that were ignored.
    /// </summary>
    public static unsafe IReadOnlyList<string> StopIgnoringStopAndReload()
    {
        var ignored = new List<string>(3);
        foreach (var (signal, name) in StopAndReload)
        {
            sigaction current;
            if (sigaction(signal, null, &current) != 0 || current.sa_handler != SIG_IGN)
                continue;
            sigaction standard = default;
            standard.sa_handler = SIG_DFL;
            if (sigaction(signal, &standard, null) == 0)
                ignored.Add(name);
        }
        return ignored;
    }
}
