using System.Globalization;

namespace MilterHost.Tools.Backup;

/// <summary>
/// <c>--keep N</c>: keeps the newest N complete dated folders (<c>YYYY-MM-DD</c> whose manifest says
/// <c>complete</c>) and every folder newer than the oldest of them; older dated folders go, complete or
/// not. An incomplete folder is never counted towards N, so it never causes a complete one to be
/// removed; with fewer than N complete folders nothing is removed. Nothing but dated folders is touched.
/// </summary>
public static class BackupRotation
{
    public const string DateFormat = "yyyy-MM-dd";

    /// <summary>The names of the folders removed, oldest first.</summary>
    public static IReadOnlyList<string> Prune(string destination, int keep)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        var dated = new DirectoryInfo(destination).EnumerateDirectories()
            .Where(d => (d.Attributes & FileAttributes.ReparsePoint) == 0
                && DateOnly.TryParseExact(d.Name, DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
            .OrderByDescending(d => d.Name, StringComparer.Ordinal)
            .ToList();
        var oldestKept = dated.Where(d => BackupManifest.IsComplete(d.FullName)).Skip(keep - 1).FirstOrDefault();
        if (oldestKept is null)
            return [];
        var removed = new List<string>();
        foreach (var old in dated.Where(d => string.CompareOrdinal(d.Name, oldestKept.Name) < 0).Reverse())
        {
            old.Delete(recursive: true);
            removed.Add(old.Name);
        }
        return removed;
    }
}
