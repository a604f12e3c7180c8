using System.Globalization;
using System.Text;
using MilterHost.Native;
using static Tmds.Linux.LibC;

namespace MilterHost.Tools.Backup;

/// <summary>
/// The <c>USER.lock</c> file beside a mailbox that sendmail's mail.local, procmail, mutt and dovecot
/// honour. Created with O_CREAT|O_EXCL (atomic on local file systems and NFSv3+), holding our pid;
/// removed only if the file there is still the one we made.
/// </summary>
internal sealed class DotLock
{
    private readonly Posix.FileId _id;

    private DotLock(string path, Posix.FileId id)
    {
        Path = path;
        _id = id;
    }

    public string Path { get; }

    public enum Outcome { Taken, Held, Failed }

    /// <summary>Tries once; <paramref name="error"/> says why when the outcome is Failed.</summary>
    public static Outcome TryTake(string path, out DotLock? taken, out string? error)
    {
        taken = null;
        error = null;
        var fd = Posix.Open(path, O_WRONLY | O_CREAT | O_EXCL, 0b110_100_100, out var errno);
        if (fd < 0)
        {
            if (errno == EEXIST)
                return Outcome.Held;
            error = $"cannot create dot-lock {path}: {Posix.Message(errno)}";
            return Outcome.Failed;
        }
        try
        {
            Posix.Write(fd, Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"));
            if (!Posix.TryStatus(fd, out var status))
            {
                error = $"cannot stat dot-lock {path}";
                Posix.Unlink(path);
                return Outcome.Failed;
            }
            taken = new DotLock(path, status.Id);
            return Outcome.Taken;
        }
        finally
        {
            Posix.Close(fd);
        }
    }

    /// <summary>Removes a dot-lock left behind longer than <paramref name="staleAfter"/>; true if it was removed.</summary>
    public static bool RemoveIfStale(string path, DateTimeOffset now, TimeSpan staleAfter)
    {
        if (!Posix.TryStatusOfPath(path, out var status) || now - status.Modified < staleAfter)
            return false;
        return Posix.Unlink(path) == 0;
    }

    /// <summary>
    /// Removes the lock if it is still ours: another process that judged it stale may have replaced it,
    /// and its lock is not ours to remove.
    /// </summary>
    public void Release()
    {
        if (Posix.TryStatusOfPath(Path, out var status) && status.Id == _id)
            Posix.Unlink(Path);
    }
}
