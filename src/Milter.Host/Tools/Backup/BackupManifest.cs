using System.Text.Json;
using MilterHost.Native;

namespace MilterHost.Tools.Backup;

/// <summary>One backed-up mailbox: the counts and hash of the uncompressed copy.</summary>
public sealed record ManifestEntry(string User, string File, long Messages, long Bytes, string Sha256, DateTimeOffset Copied)
{
    /// <summary>The spool file's owner, group and permission bits when copied (null in manifests written before they were recorded).</summary>
    public FileOwnership? Ownership { get; init; }
}

/// <summary>uid, gid and permission bits (07777) of a spool file: what restore gives a mailbox it has to create.</summary>
public sealed record FileOwnership(uint Owner, uint Group, ushort Permissions);

/// <summary>
/// <c>manifest.json</c> of a dated backup folder:
/// <c>{"version":1,"created":"...","spool":"/var/mail","complete":true,"mailboxes":[{"user","file","messages","bytes","sha256","copied","uid","gid","mode"}]}</c>,
/// sha256 in lower-case hex of the uncompressed mbox, mode in octal. <c>verified</c> is written true only
/// as the last step of a run that read back every copy listed and found each as the manifest says, and
/// <c>complete</c> only when that run also copied every mailbox of the spool. <c>--keep</c> counts only
/// complete folders, and counts a copy towards its mailbox's newest N only from a verified folder.
/// </summary>
public sealed record BackupManifest(DateTimeOffset Created, string Spool, IReadOnlyList<ManifestEntry> Mailboxes)
{
    public bool Complete { get; init; }

    /// <summary>Every copy listed was read back and matched (true for every complete folder, older ones included).</summary>
    public bool Verified { get; init; }

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
            m.GetProperty("copied").GetDateTimeOffset())
        {
            Ownership = m.TryGetProperty("uid", out var uid) && m.TryGetProperty("gid", out var gid) && m.TryGetProperty("mode", out var mode)
                ? new FileOwnership(uid.GetUInt32(), gid.GetUInt32(), Convert.ToUInt16(mode.GetString(), 8))
                : null,
        }).ToArray();
        return new BackupManifest(root.GetProperty("created").GetDateTimeOffset(), root.GetProperty("spool").GetString()!, entries)
        {
            Complete = IsTrue(root, "complete"),
            // Manifests written before "verified" existed were complete only once verified.
            Verified = IsTrue(root, "verified") || IsTrue(root, "complete"),
        };

        static bool IsTrue(JsonElement root, string name) => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
    }

    /// <summary>True when the folder's manifest exists, can be read and says the run was complete.</summary>
    public static bool IsComplete(string folder) => TryRead(folder)?.Complete ?? false;

    /// <summary>The folder's manifest, or null when it is missing or cannot be read.</summary>
    public static BackupManifest? TryRead(string folder)
    {
        try
        {
            return Read(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException
            or InvalidOperationException or FormatException or ArgumentException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>Written beside the backups, atomically (temporary file, then rename).</summary>
    public void Write(string folder)
    {
        var path = Path.Combine(folder, FileName);
        var temporary = path + ".tmp";
        try
        {
            WriteTo(temporary);
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private void WriteTo(string temporary)
    {
        using (var file = BackupFiles.CreatePrivate(temporary))
        using (var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("version", 1);
            json.WriteString("created", Created);
            json.WriteString("spool", Spool);
            json.WriteBoolean("complete", Complete);
            json.WriteBoolean("verified", Verified);
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
                if (entry.Ownership is { } ownership)
                {
                    json.WriteNumber("uid", ownership.Owner);
                    json.WriteNumber("gid", ownership.Group);
                    json.WriteString("mode", FileEntry.Octal((UnixFileMode)ownership.Permissions));
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.Flush();
            file.Flush(flushToDisk: true);
        }
    }
}
