namespace MilterHost.Tools.Backup;

/// <summary>What <c>milterhost restore-mail</c> restores, from where, into which spool.</summary>
public sealed record RestoreOptions
{
    /// <summary>A dated backup folder (<c>DEST/YYYY-MM-DD</c>, or <c>DEST/YYYY-MM-DD.HHMMSS</c> for a later run that day) with its manifest.</summary>
    public required string From { get; init; }

    /// <summary>The live mbox spool: one file per user.</summary>
    public string Spool { get; init; } = "/var/mail";

    /// <summary>Only these users; empty: every mailbox of the manifest.</summary>
    public IReadOnlyList<string> Users { get; init; } = [];

    /// <summary>Count what would be appended; write nothing.</summary>
    public bool DryRun { get; init; }

    public MailboxLockOptions Locking { get; init; } = new();
}

/// <summary>One mailbox restored, or why not.</summary>
/// <param name="BackupMessages">Messages in the backup.</param>
/// <param name="LiveMessages">Messages in the live mbox before the restore.</param>
/// <param name="Appended">Backed-up messages that were missing from the live mbox and were appended (or would be, on a dry run).</param>
/// <param name="Created">The live mbox did not exist and was created with the backed-up owner, group and mode.</param>
public sealed record RestoreResult(string User, long BackupMessages, long LiveMessages, long Appended, long AppendedBytes, bool Created, string? Failure);

/// <summary>What a <c>restore-mail</c> run did.</summary>
public sealed record RestoreReport
{
    public IReadOnlyList<RestoreResult> Mailboxes { get; init; } = [];

    /// <summary>Why nothing could be done (no manifest, unknown user).</summary>
    public string? Fatal { get; init; }

    /// <summary>0: every mailbox restored; 1: a mailbox failed; 2: fatal.</summary>
    public int ExitCode => Fatal is not null ? 2 : Mailboxes.Any(m => m.Failure is not null) ? 1 : 0;
}
