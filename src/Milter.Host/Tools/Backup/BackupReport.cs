namespace MilterHost.Tools.Backup;

/// <summary>One mailbox's fate: its manifest entry, or why it was skipped.</summary>
public sealed record MailboxResult(string User, ManifestEntry? Entry, string? Skipped, bool RemovedStaleDotLock = false);

/// <summary>What a <c>backup-mail</c> run did.</summary>
public sealed record BackupReport
{
    /// <summary>The dated folder written to (null when the run could not start).</summary>
    public string? Folder { get; init; }

    public IReadOnlyList<MailboxResult> Mailboxes { get; init; } = [];

    /// <summary>Spool entries that are not regular files (FIFO, device, symlink, folder), each with what it is; never opened.</summary>
    public IReadOnlyList<string> Ignored { get; init; } = [];

    /// <summary>Every mailbox copied and verified: the manifest says complete.</summary>
    public bool Complete { get; init; }

    /// <summary>Dated folders removed by <c>--keep</c>.</summary>
    public IReadOnlyList<string> Pruned { get; init; } = [];

    /// <summary>For the mailboxes this run skipped, the folders <c>--keep</c> kept for their newest copies.</summary>
    public IReadOnlyList<(string Folder, IReadOnlyList<string> Mailboxes)> KeptFor { get; init; } = [];

    /// <summary>Problems <c>--verify</c> found; null when not asked.</summary>
    public IReadOnlyList<string>? VerifyProblems { get; init; }

    /// <summary>Why nothing could be done (no spool, destination not writable).</summary>
    public string? Fatal { get; init; }

    /// <summary>0: all backed up (and verified); 1: a mailbox skipped or a verify problem; 2: fatal.</summary>
    public int ExitCode =>
        Fatal is not null ? 2
        : Mailboxes.Any(m => m.Skipped is not null) || VerifyProblems is { Count: > 0 } ? 1
        : 0;
}
