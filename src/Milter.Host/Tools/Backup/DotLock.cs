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

    /// <summary>
    /// Removes a dot-lock left behind longer than <paramref name="staleAfter"/>; true if it was removed.
    /// A lock whose pid is a live process here is not stale, however old: its holder may be copying or
    /// restoring a large mailbox (ours refresh their time while held, see <see cref="Refresh"/>).
    /// </summary>
    public static bool RemoveIfStale(string path, DateTimeOffset now, TimeSpan staleAfter)
    {
        if (!Posix.TryStatusOfPath(path, out var status) || now - status.Modified < staleAfter)
            return false;
        if (HolderIsAlive(path))
            return false;
        return Posix.Unlink(path) == 0;
    }

    // The pid the lock holds (mail.local, procmail and we write one), when it names a process that runs.
    private static bool HolderIsAlive(string path) =>
        HolderOf(path) is { } pid && pid > 1 && (kill(pid, 0) == 0 || errno == EPERM);

    private static int? HolderOf(string path)
    {
        var fd = Posix.Open(path, O_RDONLY, 0, out _);
        if (fd < 0)
            return null;
        Span<byte> buffer = stackalloc byte[32];
        int read;
        try
        {
            read = Posix.Read(fd, buffer);
        }
        finally
        {
            Posix.Close(fd);
        }
        return read > 0 && int.TryParse(Encoding.ASCII.GetString(buffer[..read]).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? pid : null;
    }

    // Ours: the file we made (a file made after ours was removed may get its inode number) with our pid in it.
    private bool IsOurs() =>
        Posix.TryStatusOfPath(Path, out var status) && status.Id == _id && HolderOf(Path) == Environment.ProcessId;

    /// <summary>Sets the lock's time to now, if it is still ours, so that nobody judges it stale while we hold it.</summary>
    public void Refresh(DateTimeOffset now)
    {
        if (IsOurs())
        {
            try
            {
                File.SetLastWriteTimeUtc(Path, now.UtcDateTime);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone or replaced meanwhile: nothing of ours to refresh.
            }
        }
    }

    /// <summary>
    /// Removes the lock if it is still ours: another process that judged it stale may have replaced it,
    /// and its lock is not ours to remove.
    /// </summary>
    public void Release()
    {
        if (IsOurs())
            Posix.Unlink(Path);
    }
}
