using System.Text.Json;

namespace MilterHost.Tools.Backup;

/// <summary>One backed-up mailbox: the counts and hash of the uncompressed copy.</summary>
public sealed record ManifestEntry(string User, string File, long Messages, long Bytes, string Sha256, DateTimeOffset Copied);

/// <summary>
/// <c>manifest.json</c> of a dated backup folder:
/// <c>{"version":1,"created":"...","spool":"/var/mail","mailboxes":[{"user","file","messages","bytes","sha256","copied"}]}</c>,
/// sha256 in lower-case hex of the uncompressed mbox.
/// </summary>
public sealed record BackupManifest(DateTimeOffset Created, string Spool, IReadOnlyList<ManifestEntry> Mailboxes)
{
    public const string FileName = "manifest.json";

    public static BackupManifest Read(string folder)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, FileName)));
        var root = document.RootElement;
        var entries = root.GetProperty("mailboxes").EnumerateArray().Select(m => new ManifestEntry(
            m.GetProperty("user").GetString()!,
            m.GetProperty("file").GetString()!,
            m.GetProperty("messages").GetInt64(),
            m.GetProperty("bytes").GetInt64(),
            m.GetProperty("sha256").GetString()!,
            m.GetProperty("copied").GetDateTimeOffset())).ToArray();
        return new BackupManifest(root.GetProperty("created").GetDateTimeOffset(), root.GetProperty("spool").GetString()!, entries);
    }

    /// <summary>Written beside the backups, atomically (temporary file, then rename).</summary>
    public void Write(string folder)
    {
        var path = Path.Combine(folder, FileName);
        var temporary = path + ".tmp";
        using (var file = BackupFiles.CreatePrivate(temporary))
        using (var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("version", 1);
            json.WriteString("created", Created);
            json.WriteString("spool", Spool);
            json.WriteStartArray("mailboxes");
            foreach (var entry in Mailboxes)
            {
                json.WriteStartObject();
                json.WriteString("user", entry.User);
                json.WriteString("file", entry.File);
                json.WriteNumber("messages", entry.Messages);
                json.WriteNumber("bytes", entry.Bytes);
                json.WriteString("sha256", entry.Sha256);
                json.WriteString("copied", entry.Copied);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        File.Move(temporary, path, overwrite: true);
    }
}
