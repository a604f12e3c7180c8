using System.Globalization;

namespace MilterHost.Tools.Backup;

/// <summary>What <c>--keep</c> removed, and the older folders it kept only for some mailboxes.</summary>
/// <param name="Removed">The names of the folders removed, oldest first.</param>
/// <param name="KeptFor">For the mailboxes this run skipped: the folders holding their newest N verified
/// copies, which are kept, oldest first.</param>
public sealed record PruneResult(IReadOnlyList<string> Removed, IReadOnlyList<(string Folder, IReadOnlyList<string> Mailboxes)> KeptFor);

/// <summary>
/// The dated folders, one per run (<c>YYYY-MM-DD</c>, and <c>YYYY-MM-DD.HHMMSS</c> for a later run the
/// same day), and <c>--keep N</c>, after a run that read back every copy it made (<c>verified</c>). A
/// dated folder is kept when any of these holds:
/// <list type="bullet">
/// <item>it is one of the newest N complete folders;</item>
/// <item>it holds one of the newest N verified copies of a mailbox that is in the spool now. A mailbox
/// that could not be copied for weeks (its user's client holds the lock) keeps its last copies, while
/// every other mailbox's older folders still go: one locked mailbox cannot stop the pruning and fill
/// the disk;</item>
/// <item>its copies were never verified (a run that stopped half-way, or one without <c>--verify</c>) and
/// it is newer than the oldest folder kept by the two rules above.</item>
/// </list>
/// When every run is complete, that is the newest N folders.
/// Every other dated folder is removed. Nothing but dated folders is touched. A mailbox no longer in the
/// spool keeps nothing by itself: its copies go with the folders that hold them.
/// </summary>
public static class BackupRotation
{
    public const string DateFormat = "yyyy-MM-dd";

    // A later run the same day: DATE.HHMMSS, then DATE.HHMMSS-2 ... -9 within the same second.
    private const string TimeFormat = "HHmmss";
    private const int SameSecondRuns = 9;

    /// <summary>
    /// The names a run that starts at <paramref name="started"/> (local time) may take, in the order
    /// to try: the day, then the day and the time. Compared as plain strings, a later run's name sorts
    /// after an earlier one's, the same day or not.
    /// </summary>
    public static IEnumerable<string> RunFolderNames(DateTimeOffset started)
    {
        var day = started.ToString(DateFormat, CultureInfo.InvariantCulture);
        yield return day;
        var time = day + "." + started.ToString(TimeFormat, CultureInfo.InvariantCulture);
        yield return time;
        for (var n = 2; n <= SameSecondRuns; n++)
            yield return time + "-" + n.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Whether <paramref name="name"/> is one <see cref="RunFolderNames"/> gives: anything else in the destination is not ours.</summary>
    public static bool IsRunFolder(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length < DateFormat.Length
            || !DateOnly.TryParseExact(name.AsSpan(0, DateFormat.Length), DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
        {
            return false;
        }
        var rest = name.AsSpan(DateFormat.Length);
        if (rest.IsEmpty)
            return true;
        if (rest[0] != '.' || rest.Length < 1 + TimeFormat.Length
            || !TimeOnly.TryParseExact(rest.Slice(1, TimeFormat.Length), TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
        {
            return false;
        }
        rest = rest[(1 + TimeFormat.Length)..];
        return rest.IsEmpty || (rest.Length == 2 && rest[0] == '-' && rest[1] is >= '2' and <= '9'); // SameSecondRuns
    }

    /// <param name="destination">The folder holding the dated folders.</param>
    /// <param name="keep">N.</param>
    /// <param name="mailboxes">The mailboxes in the spool now (copied by this run or not).</param>
    public static PruneResult Prune(string destination, int keep, IReadOnlyCollection<string> mailboxes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        ArgumentNullException.ThrowIfNull(mailboxes);
        var dated = new DirectoryInfo(destination).EnumerateDirectories()
            .Where(d => (d.Attributes & FileAttributes.ReparsePoint) == 0 && IsRunFolder(d.Name))
            .OrderByDescending(d => d.Name, StringComparer.Ordinal)
            .Select(d => (Folder: d, Manifest: BackupManifest.TryRead(d.FullName)))
            .ToList();
        // The mailboxes each verified folder holds a copy of: a spool of thousands, kept for weeks,
        // is asked about each mailbox in each folder.
        var copies = dated.Select(d => d.Manifest is { Verified: true } m ? m.Mailboxes.Select(e => e.User).ToHashSet(StringComparer.Ordinal) : []).ToList();

        var kept = dated.Where(d => d.Manifest?.Complete == true).Take(keep).Select(d => d.Folder.Name).ToHashSet(StringComparer.Ordinal);

        // The newest folder is this run's (verified, or there is no pruning): a mailbox without a copy
        // there was skipped by it.
        var keptFor = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var mailbox in mailboxes.Order(StringComparer.Ordinal))
        {
            var skipped = copies.Count == 0 || !copies[0].Contains(mailbox);
            foreach (var folder in dated.Where((_, i) => copies[i].Contains(mailbox)).Take(keep).Select(d => d.Folder))
            {
                kept.Add(folder.Name);
                if (skipped)
                {
                    if (!keptFor.TryGetValue(folder.Name, out var users))
                        keptFor[folder.Name] = users = [];
                    users.Add(mailbox);
                }
            }
        }

        if (kept.Count == 0)
            return new PruneResult([], []);
        var oldestKept = kept.Min(StringComparer.Ordinal)!;
        var removed = new List<string>();
        foreach (var (folder, manifest) in Enumerable.Reverse(dated))
        {
            if (kept.Contains(folder.Name))
                continue;
            if (manifest is not { Verified: true } && string.CompareOrdinal(folder.Name, oldestKept) > 0)
                continue;
            folder.Delete(recursive: true);
            removed.Add(folder.Name);
        }
        return new PruneResult(removed, [.. keptFor.Select(k => (k.Key, (IReadOnlyList<string>)k.Value))]);
    }
}
