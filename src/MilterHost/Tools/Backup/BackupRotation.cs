using System.Globalization;

namespace MilterHost.Tools.Backup;

/// <summary><c>--keep N</c>: removes dated folders (<c>YYYY-MM-DD</c>) beyond the newest N; nothing else is touched.</summary>
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
        var removed = new List<string>();
        foreach (var old in dated.Skip(keep).Reverse())
        {
            old.Delete(recursive: true);
            removed.Add(old.Name);
        }
        return removed;
    }
}
