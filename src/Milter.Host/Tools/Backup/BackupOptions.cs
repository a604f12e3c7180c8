namespace MilterHost.Tools.Backup;

/// <summary>What <c>milterhost backup-mail</c> copies, where to, and how long it waits for locks.</summary>
public sealed record BackupOptions
{
    /// <summary>The mbox spool: one file per user.</summary>
    public string Spool { get; init; } = "/var/mail";

    /// <summary>Backups go to <c>DEST/YYYY-MM-DD/USER.mbox.gz</c> (<c>DEST/YYYY-MM-DD.HHMMSS</c> for a later run the same day) with a <c>manifest.json</c>.</summary>
    public string Destination { get; init; } = "/var/backups/milterhost";

    /// <summary>Dated folders to keep, newest first; null: keep all.</summary>
    public int? Keep { get; init; }

    /// <summary>Re-read what was written and check it against the manifest.</summary>
    public bool Verify { get; init; }

    public MailboxLockOptions Locking { get; init; } = new();
}

/// <summary>How long to wait for a mailbox's locks, and when someone else's dot-lock is abandoned.</summary>
public sealed record MailboxLockOptions
{
    /// <summary>A mailbox whose locks stay taken this long is skipped (the others are still backed up).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A dot-lock older than this was left by a crashed process (liblockfile's and mail.local's convention: 5 minutes).</summary>
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Between two tries; short, as delivery agents hold their locks for milliseconds.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(50);
}
