using System.Globalization;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace MilterHost.Native;

/// <summary>
/// Takes a mapped file's pages out of this process's resident set, for the native executable once
/// the daemon has started: start-up reads several megabytes of it that mail never touches again (the
/// configuration's parser, the host's wiring, the type data the runtime copies out once), and the
/// kernel maps 64 KB around every page touched. Those pages stay in the page cache; a page used again
/// is mapped back from there (a minor fault, no disk read). Only mappings that cannot be written and
/// hold no private page are touched: a read-only mapping whose pages are all the file's own, so
/// dropping them loses nothing (pages the loader relocated are private copies, and their mapping is
/// left alone).
/// </summary>
internal static unsafe class MappedFilePages
{
    /// <summary>One mapping of the file that may be dropped: where, how long, and how much of it is resident.</summary>
    internal readonly record struct Mapping(ulong Start, ulong Length, long ResidentKb);

    /// <summary>Drops the droppable mappings of <paramref name="path"/>; the kB that were resident in them, or null when nothing could be read.</summary>
    public static long? Drop(string path)
    {
        string smaps;
        try
        {
            smaps = File.ReadAllText("/proc/self/smaps");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        long dropped = 0;
        foreach (var mapping in Droppable(smaps, path))
        {
            if (madvise((void*)mapping.Start, (size_t)mapping.Length, MADV_DONTNEED) == 0)
                dropped += mapping.ResidentKb;
        }
        return dropped;
    }

    /// <summary>
    /// The mappings of <paramref name="path"/> in <paramref name="smaps"/> (the text of
    /// <c>/proc/PID/smaps</c>) that are not writable, hold no private (<c>Anonymous</c>) page and
    /// have something resident.
    /// </summary>
    internal static List<Mapping> Droppable(string smaps, string path)
    {
        ArgumentNullException.ThrowIfNull(smaps);
        ArgumentNullException.ThrowIfNull(path);
        var found = new List<Mapping>();
        Mapping? current = null;
        long anonymous = -1;
        void Close()
        {
            if (current is { ResidentKb: > 0 } m && anonymous == 0)
                found.Add(m);
            current = null;
            anonymous = -1;
        }
        foreach (var line in smaps.AsSpan().EnumerateLines())
        {
            if (TryHeader(line, path, out var isOurs, out var start, out var length))
            {
                Close();
                if (isOurs)
                    current = new Mapping(start, length, 0);
                continue;
            }
            if (current is not { } mapping)
                continue;
            if (Field(line, "Rss:") is { } rss)
                current = mapping with { ResidentKb = rss };
            else if (Field(line, "Anonymous:") is { } anon)
                anonymous = anon;
        }
        Close();
        return found;
    }

    // "55d0c3a00000-55d0c3b00000 r-xp 00034000 fe:00 11739144   /usr/bin/milterhost": a mapping's first line.
    private static bool TryHeader(ReadOnlySpan<char> line, string path, out bool isOurs, out ulong start, out ulong length)
    {
        isOurs = false;
        start = length = 0;
        var dash = line.IndexOf('-');
        var space = line.IndexOf(' ');
        if (dash <= 0 || space <= dash
            || !ulong.TryParse(line[..dash], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out start)
            || !ulong.TryParse(line[(dash + 1)..space], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var end)
            || end <= start)
        {
            return false;
        }
        length = end - start;
        var rest = line[(space + 1)..];
        // Permissions: "r-xp". Writable mappings may hold data the process wrote: never ours to drop.
        var writable = rest.Length > 1 && rest[1] == 'w';
        // The path is the last field, after the offset, the device and the inode.
        var fields = 0;
        var i = 0;
        while (i < rest.Length && fields < 4)
        {
            while (i < rest.Length && rest[i] != ' ')
                i++;
            while (i < rest.Length && rest[i] == ' ')
                i++;
            fields++;
        }
        isOurs = !writable && rest[i..].SequenceEqual(path);
        return true;
    }

    private static long? Field(ReadOnlySpan<char> line, string name)
    {
        if (!line.StartsWith(name, StringComparison.Ordinal))
            return null;
        var value = line[name.Length..].Trim();
        if (value.EndsWith(" kB", StringComparison.Ordinal))
            value = value[..^3];
        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb : null;
    }
}
