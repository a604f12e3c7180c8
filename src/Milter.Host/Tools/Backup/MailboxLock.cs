using MilterHost.Configuration;
using MilterHost.Native;
using static Tmds.Linux.LibC;

namespace MilterHost.Tools.Backup;

/// <summary>Why a mailbox is locked: to copy it (backup) or to append to it (restore).</summary>
internal enum MailboxAccess
{
    /// <summary>Opened read-only under a shared fcntl read lock: delivery waits, other readers may share it.</summary>
    Read,

    /// <summary>Opened read-write with O_APPEND under an exclusive fcntl write lock, as a delivery agent appends.</summary>
    Append,
}

/// <summary>
/// Whose mailbox it is: the owner an existing one must have to be appended to, and the owner, group
/// and mode a missing one is created with, under its dot-lock (restore of a deleted mailbox).
/// </summary>
internal readonly record struct MailboxOwner(uint Owner, uint Group, ushort Permissions);

/// <summary>
/// A mailbox held still: its dot-lock taken, then an fcntl lock and a flock on the whole file. Delivery
/// agents append under an exclusive fcntl write lock (or flock, for some), which a read lock excludes
/// (and the other way round); other readers, which only read, may share a read lock. Dispose releases
/// them all.
/// </summary>
internal sealed class MailboxLock : IDisposable
{
    private readonly DotLock _dotLock;
    private readonly ITimer _refresh;

    private MailboxLock(DotLock dotLock, int fd, Posix.Status status, bool created, TimeProvider time, TimeSpan staleAfter)
    {
        _dotLock = dotLock;
        // Held longer than others wait before they call a dot-lock stale (a large copy or restore):
        // its time is kept fresh, as mail.local's own lock is not, so nobody breaks it under us.
        var every = staleAfter / 5;
        _refresh = time.CreateTimer(_ => dotLock.Refresh(time.GetUtcNow()), null, every, every);
        Descriptor = fd;
        Size = status.Size;
        Ownership = new FileOwnership(status.Owner, status.Group, status.Permissions);
        Created = created;
    }

    /// <summary>Open as <see cref="MailboxAccess"/> asked; the fcntl lock lives as long as it does.</summary>
    public int Descriptor { get; private set; }

    /// <summary>The mailbox's size once locked: what a consistent copy holds.</summary>
    public long Size { get; }

    /// <summary>The mailbox's owner, group and permissions once locked.</summary>
    public FileOwnership Ownership { get; }

    /// <summary>The mailbox did not exist and was created under the dot-lock.</summary>
    public bool Created { get; }

    /// <summary>The outcome of waiting for a mailbox: the lock, or why it was not had.</summary>
    public sealed record Attempt(MailboxLock? Lock, string? Failure, bool RemovedStaleDotLock);

    /// <summary>
    /// Takes both locks, retrying until <see cref="MailboxLockOptions.Timeout"/>. While the fcntl lock is
    /// taken by someone else the dot-lock is let go between tries, so a process that takes the two in
    /// the other order is never dead-locked against us. Only a regular file is opened: the entry is
    /// checked with lstat first, and the descriptor with fstat after, so a FIFO, device or symlink
    /// swapped in meanwhile is refused rather than read (a FIFO would block the open for ever).
    /// </summary>
    /// <param name="createAs">
    /// With <see cref="MailboxAccess.Append"/>: the user the mailbox belongs to. A missing mailbox is
    /// created with this owner and mode; an existing one owned by anyone else is refused, as
    /// mail.local refuses it, since appending would hand this user's mail to that owner.
    /// </param>
    public static async Task<Attempt> AcquireAsync(string mailbox, MailboxAccess access, MailboxLockOptions options, TimeProvider time,
        CancellationToken cancellationToken, MailboxOwner? createAs = null)
    {
        var started = time.GetTimestamp();
        var dotLockPath = mailbox + ".lock";
        var removedStale = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string? busy;
            switch (DotLock.TryTake(dotLockPath, out var dotLock, out var error))
            {
                case DotLock.Outcome.Failed:
                    return new Attempt(null, error, removedStale);
                case DotLock.Outcome.Held:
                    if (DotLock.RemoveIfStale(dotLockPath, time.GetUtcNow(), options.StaleAfter))
                    {
                        removedStale = true;
                        continue;
                    }
                    busy = $"dot-lock {dotLockPath} held by another process";
                    break;
                default:
                    var taken = TryLockFile(mailbox, access, createAs, dotLock!, time, options.StaleAfter, out busy, out var failure);
                    if (taken is not null)
                        return new Attempt(taken, null, removedStale);
                    dotLock!.Release();
                    if (failure is not null)
                        return new Attempt(null, failure, removedStale);
                    break;
            }
            if (time.GetElapsedTime(started) >= options.Timeout)
                return new Attempt(null, $"{busy} for {Duration.Format(options.Timeout)}", removedStale);
            await Task.Delay(options.PollInterval, time, cancellationToken);
        }
    }

    private static MailboxLock? TryLockFile(string mailbox, MailboxAccess access, MailboxOwner? createAs, DotLock dotLock, TimeProvider time,
        TimeSpan staleAfter, out string? busy, out string? failure)
    {
        busy = null;
        var fd = OpenRegular(mailbox, access, createAs, out var created, out failure);
        if (fd < 0)
            return null;
        var errno = Posix.TryLock(fd, access == MailboxAccess.Read ? (short)F_RDLCK : (short)F_WRLCK);
        var kind = "fcntl";
        if (errno == 0)
        {
            // And flock, which Linux keeps apart from fcntl: a mail program that takes only flock
            // (mutt or procmail built so, Dovecot with mbox_write_locks = flock) would not see the other.
            errno = Posix.TryFlock(fd, exclusive: access != MailboxAccess.Read);
            kind = "flock";
            // A file system without flock (EINVAL, ENOLCK): the fcntl lock and the dot-lock still hold it.
            if (errno == EINVAL || errno == ENOLCK)
                errno = 0;
        }
        if (errno == 0)
        {
            // Re-read the size: a writer may have appended between open and lock.
            Posix.TryStatus(fd, out var status);
            return new MailboxLock(dotLock, fd, status, created, time, staleAfter);
        }
        Posix.Close(fd);
        // flock answers EWOULDBLOCK, which is EAGAIN on Linux.
        if (errno == EAGAIN || errno == EACCES)
            busy = $"{mailbox} locked ({kind}) by another process";
        else
            failure = $"cannot lock {mailbox}: {Posix.Message(errno)}";
        return null;
    }

    /// <summary>lstat, open (O_NOFOLLOW|O_NONBLOCK), fstat: the descriptor of the regular file lstat saw, or -1 and why.</summary>
    private static int OpenRegular(string mailbox, MailboxAccess access, MailboxOwner? createAs, out bool created, out string? failure)
    {
        created = false;
        if (!Posix.TryStatusOfPath(mailbox, out var seen, out var errno))
        {
            if (errno == ENOENT && access == MailboxAccess.Append && createAs is { } owner)
                return Create(mailbox, owner, out created, out failure);
            failure = errno == ENOENT && access == MailboxAccess.Append
                ? $"{mailbox} does not exist, and the backup does not record the owner and mode to create it with"
                : $"cannot open {mailbox}: {Posix.Message(errno)}";
            return -1;
        }
        if (!seen.Regular)
        {
            failure = $"{mailbox} is {FileKinds.Describe(seen.Kind)}, not a regular file";
            return -1;
        }
        var fd = Posix.Open(mailbox, access == MailboxAccess.Read ? O_RDONLY : O_RDWR | O_APPEND, 0, out errno);
        if (fd < 0)
        {
            failure = $"cannot open {mailbox}: {Posix.Message(errno)}";
            return -1;
        }
        if (!Posix.TryStatus(fd, out var opened) || !opened.Regular || opened.Id != seen.Id)
        {
            Posix.Close(fd);
            failure = $"{mailbox} was replaced while being opened";
            return -1;
        }
        // A hard link makes another file (another user's, /etc/passwd) look like this mailbox; mail.local refuses it too.
        failure = opened.Links != 1 ? $"{mailbox} has {opened.Links} hard links: not a mailbox of its own, left alone"
            : access == MailboxAccess.Append && createAs is { } expected && opened.Owner != expected.Owner
                ? $"{mailbox} belongs to uid {opened.Owner}, not to the mailbox's user (uid {expected.Owner}): not appended to"
                : null;
        if (failure is not null)
        {
            Posix.Close(fd);
            return -1;
        }
        return fd;
    }

    private static int Create(string mailbox, MailboxOwner owner, out bool created, out string? failure)
    {
        created = false;
        var fd = Posix.Open(mailbox, O_RDWR | O_APPEND | O_CREAT | O_EXCL, 0b110_000_000, out var errno);
        if (fd < 0)
        {
            failure = $"cannot create {mailbox}: {Posix.Message(errno)}";
            return -1;
        }
        errno = Posix.SetOwnerAndMode(fd, owner.Owner, owner.Group, owner.Permissions);
        if (errno != 0)
        {
            // Left in place, empty and 0600: a mailbox the wrong user could read is worse than none.
            Posix.Close(fd);
            failure = $"created {mailbox} but cannot give it owner {owner.Owner}:{owner.Group} mode {Convert.ToString(owner.Permissions, 8)}: {Posix.Message(errno)}";
            return -1;
        }
        created = true;
        failure = null;
        return fd;
    }

    public void Dispose()
    {
        if (Descriptor < 0)
            return;
        // Closing the descriptor drops the fcntl lock and the flock; the dot-lock goes after them, as it was taken first.
        _refresh.Dispose();
        Posix.Close(Descriptor);
        Descriptor = -1;
        _dotLock.Release();
    }
}
