using System.Text.Json;
using System.Text.Json.Serialization;

namespace MilterHost.Tools.LogScan;

/// <summary>Where a log file was read to: the file (device and inode) and the byte after its last complete line.</summary>
public sealed record FilePosition(ulong Device, ulong Inode, long Offset);

/// <summary>
/// Where the last run stopped, so that the next one counts each line once: per log path, the file and
/// offset; for the journal, the cursor of the last entry read. Kept as JSON next to the database
/// (<c>logscan.state</c>) and replaced whole (write, fsync, rename) after a run that read and applied.
/// </summary>
public sealed record LogScanState
{
    public Dictionary<string, FilePosition> Files { get; init; } = new(StringComparer.Ordinal);

    public string? JournalCursor { get; init; }

    /// <summary>Reads the state file; a missing file is an empty state. Throws <see cref="InvalidDataException"/> for a broken one.</summary>
    public static LogScanState Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new LogScanState();
        }
        try
        {
            var state = JsonSerializer.Deserialize(bytes, LogScanStateJson.Default.LogScanState)
                ?? throw new InvalidDataException($"{path}: empty");
            // Well-formed JSON can still hold what no run wrote (a null, a negative offset).
            if (state.Files is null || state.Files.Any(f => f.Value is null || f.Value.Offset < 0))
                throw new InvalidDataException($"{path}: not a logscan state file (a log file's entry is missing or has a negative offset)");
            return state;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a logscan state file ({e.Message})", e);
        }
    }

    /// <summary>Writes to a temporary file beside <paramref name="path"/>, flushes it to disk and renames it over the old state.</summary>
    public void Save(string path)
    {
        var temporary = path + ".new";
        // Made anew, never opened through whatever is there: run as root (logscan --apply on
        // PostgreSQL stays root) in a folder the daemon's user may write, a link planted as the
        // temporary name would have root write over its target. Deleting removes the link itself;
        // CreateNew (O_EXCL) refuses a link put back in between; the rename replaces a link at the
        // final name without following it.
        File.Delete(temporary);
        using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(file, this, LogScanStateJson.Default.LogScanState);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(LogScanState))]
internal sealed partial class LogScanStateJson : JsonSerializerContext;
