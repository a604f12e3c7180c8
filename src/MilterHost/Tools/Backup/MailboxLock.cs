using MilterHost.Configuration;
using static Tmds.Linux.LibC;

namespace MilterHost.Tools.Backup;

/// <summary>
/// A mailbox held still for copying: its dot-lock taken, then a shared fcntl read lock on the whole
/// file. Delivery agents append under an exclusive fcntl write lock, which a read lock excludes (and
/// the other way round); other readers, which only read, may share it. Dispose releases both.
/// </summary>
internal sealed class MailboxLock : IDisposable
{
    private readonly DotLock _dotLock;

    private MailboxLock(DotLock dotLock, int fd, long size)
    {
        _dotLock = dotLock;
        Descriptor = fd;
        Size = size;
    }

    /// <summary>Open read-only; the read lock lives as long as it does.</summary>
    public int Descriptor { get; private set; }

    /// <summary>The mailbox's size once locked: what a consistent copy holds.</summary>
    public long Size { get; }

    /// <summary>The outcome of waiting for a mailbox: the lock, or why it was not had.</summary>
    public sealed record Attempt(MailboxLock? Lock, string? Failure, bool RemovedStaleDotLock);

    /// <summary>
    /// Takes both locks, retrying until <see cref="MailboxLockOptions.Timeout"/>. While the fcntl lock is
    /// taken by someone else the dot-lock is let go between tries, so a process that takes the two in
    /// the other order is never dead-locked against us.
    /// </summary>
    public static async Task<Attempt> AcquireAsync(string mailbox, MailboxLockOptions options, TimeProvider time, CancellationToken cancellationToken)
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
                    var taken = TryLockFile(mailbox, dotLock!, out busy, out var failure);
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

    private static MailboxLock? TryLockFile(string mailbox, DotLock dotLock, out string? busy, out string? failure)
    {
        busy = null;
        failure = null;
        var fd = Posix.Open(mailbox, O_RDONLY, 0, out var errno);
        if (fd < 0)
        {
            failure = $"cannot open {mailbox}: {Posix.Message(errno)}";
            return null;
        }
        if (!Posix.TryStatus(fd, out var status) || !status.Regular)
        {
            Posix.Close(fd);
            failure = $"{mailbox} is not a regular file";
            return null;
        }
        errno = Posix.TryLock(fd, (short)F_RDLCK);
        if (errno == 0)
        {
            // Re-read the size: a writer may have appended between open and lock.
            Posix.TryStatus(fd, out status);
            return new MailboxLock(dotLock, fd, status.Size);
        }
        Posix.Close(fd);
        if (errno == EAGAIN || errno == EACCES)
            busy = $"{mailbox} locked (fcntl) by another process";
        else
            failure = $"cannot lock {mailbox}: {Posix.Message(errno)}";
        return null;
    }

    public void Dispose()
    {
        if (Descriptor < 0)
            return;
        // Closing the descriptor drops the fcntl lock; the dot-lock goes after it, as it was taken first.
        Posix.Close(Descriptor);
        Descriptor = -1;
        _dotLock.Release();
    }
}
