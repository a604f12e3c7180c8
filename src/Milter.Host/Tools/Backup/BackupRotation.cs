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

    // A later run the same day: DATE.HHMMSS, then DATE.HHMMSS-2, -3 ... within the same second.
    private const string TimeFormat = "HHmmss";

    /// <summary>
    /// The names a run that starts at <paramref name="started"/> (local time) may take, in the order
    /// to try: the day, then the day and the time, then that with a sequence number, without end (the
    /// caller takes the first name nothing has yet).
    /// </summary>
    public static IEnumerable<string> RunFolderNames(DateTimeOffset started)
    {
        var day = started.ToString(DateFormat, CultureInfo.InvariantCulture);
        yield return day;
        var time = day + "." + started.ToString(TimeFormat, CultureInfo.InvariantCulture);
        yield return time;
        for (var n = 2; n < int.MaxValue; n++)
            yield return time + "-" + n.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The run folders in <paramref name="destination"/>, newest run first: the names
    /// <see cref="RunFolderNames"/> gives, never a symlink; anything else in the destination is not ours.
    /// </summary>
    internal static List<(DirectoryInfo Folder, RunName Run)> RunFolders(string destination)
    {
        var runs = new List<(DirectoryInfo Folder, RunName Run)>();
        foreach (var folder in new DirectoryInfo(destination).EnumerateDirectories())
        {
            if ((folder.Attributes & FileAttributes.ReparsePoint) == 0 && TryParse(folder.Name, out var run))
                runs.Add((folder, run));
        }
        runs.Sort((a, b) => b.Run.CompareTo(a.Run));
        return runs;
    }

    /// <summary>
    /// A run folder's name as the order of the runs: the day, then the time of a later run that day
    /// (the day's first run, named by the day alone, has none and comes first), then the sequence
    /// number within one second. Plain string order would put <c>-10</c> before <c>-2</c>.
    /// </summary>
    internal readonly record struct RunName(DateOnly Day, int Second, int Sequence) : IComparable<RunName>
    {
        public int CompareTo(RunName other) =>
            Day != other.Day ? Day.CompareTo(other.Day) : Second != other.Second ? Second.CompareTo(other.Second) : Sequence.CompareTo(other.Sequence);
    }

    /// <summary>Parses a name <see cref="RunFolderNames"/> gives; false for any other name.</summary>
    internal static bool TryParse(string name, out RunName run)
    {
        ArgumentNullException.ThrowIfNull(name);
        run = default;
        if (name.Length < DateFormat.Length
            || !DateOnly.TryParseExact(name.AsSpan(0, DateFormat.Length), DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            return false;
        }
        var rest = name.AsSpan(DateFormat.Length);
        if (rest.IsEmpty)
        {
            run = new RunName(day, -1, 1);
            return true;
        }
        if (rest[0] != '.' || rest.Length < 1 + TimeFormat.Length
            || !TimeOnly.TryParseExact(rest.Slice(1, TimeFormat.Length), TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            return false;
        }
        var second = (int)(time.Ticks / TimeSpan.TicksPerSecond);
        rest = rest[(1 + TimeFormat.Length)..];
        if (rest.IsEmpty)
        {
            run = new RunName(day, second, 1);
            return true;
        }
        // "-N": N from 2 on, as written by RunFolderNames (no sign, no leading zero).
        if (rest.Length < 2 || rest[0] != '-' || rest[1] is < '1' or > '9'
            || !int.TryParse(rest[1..], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) || sequence < 2)
        {
            return false;
        }
        run = new RunName(day, second, sequence);
        return true;
    }

    /// <param name="destination">The folder holding the dated folders.</param>
    /// <param name="keep">N.</param>
    /// <param name="mailboxes">The mailboxes in the spool now (copied by this run or not).</param>
    /// <param name="current">This run's folder (its full path): the newest whatever its name says.</param>
    public static PruneResult Prune(string destination, int keep, IReadOnlyCollection<string> mailboxes, string current)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        ArgumentNullException.ThrowIfNull(mailboxes);
        ArgumentNullException.ThrowIfNull(current);
        // Newest first by name, but this run's folder before all: after the clock went back (corrected,
        // a restored snapshot) a folder named later than today exists, and by name alone this run's
        // backup, the only copy of today's mail, would be the oldest and be pruned.
        var currentName = Path.GetFileName(Path.TrimEndingDirectorySeparator(current));
        var dated = RunFolders(destination).OrderBy(d => d.Folder.Name == currentName ? 0 : 1)
            .Select(d => (d.Folder, d.Run, Manifest: BackupManifest.TryRead(d.Folder.FullName))).ToList();
        // The mailboxes each verified folder holds a copy of: a spool of thousands, kept for weeks,
        // is asked about each mailbox in each folder.
        var copies = dated.Select(d => d.Manifest is { Verified: true } m ? m.Mailboxes.Select(e => e.User).ToHashSet(StringComparer.Ordinal) : []).ToList();

        var kept = dated.Where(d => d.Manifest?.Complete == true).Take(keep).Select(d => d.Folder.Name).ToHashSet(StringComparer.Ordinal);

        // The newest folder is this run's (verified, or there is no pruning): a mailbox without a copy
        // there was skipped by it.
        var keptFor = new Dictionary<string, List<string>>(StringComparer.Ordinal);
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
        var oldestKept = dated.Where(d => kept.Contains(d.Folder.Name)).Min(d => d.Run);
        var removed = new List<string>();
        foreach (var (folder, run, manifest) in Enumerable.Reverse(dated))
        {
            if (kept.Contains(folder.Name))
                continue;
            if (manifest is not { Verified: true } && run.CompareTo(oldestKept) > 0)
                continue;
            folder.Delete(recursive: true);
            removed.Add(folder.Name);
        }
        // Oldest first, as the removed folders.
        IReadOnlyList<(string, IReadOnlyList<string>)> keptForSkipped =
            [.. Enumerable.Reverse(dated).Where(d => keptFor.ContainsKey(d.Folder.Name)).Select(d => (d.Folder.Name, (IReadOnlyList<string>)keptFor[d.Folder.Name]))];
        return new PruneResult(removed, keptForSkipped);
    }
}
