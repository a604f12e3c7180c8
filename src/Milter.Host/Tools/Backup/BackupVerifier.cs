using System.IO.Compression;

namespace MilterHost.Tools.Backup;

/// <summary>Re-reads a dated backup folder and checks every mailbox against its manifest.</summary>
public static class BackupVerifier
{
    /// <summary>One line per problem found (missing, unreadable, other count, other hash); empty when all is well.</summary>
    public static async Task<IReadOnlyList<string>> VerifyAsync(string folder, IEnumerable<string>? onlyUsers, CancellationToken cancellationToken)
    {
        BackupManifest manifest;
        try
        {
            manifest = BackupManifest.Read(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return [$"{Path.Combine(folder, BackupManifest.FileName)}: unreadable manifest: {e.Message}"];
        }
        var only = onlyUsers?.ToHashSet(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var entry in manifest.Mailboxes.Where(e => only is null || only.Contains(e.User)))
        {
            try
            {
                var (messages, bytes, sha256) = await DigestAsync(Path.Combine(folder, entry.File), cancellationToken);
                if (bytes != entry.Bytes)
                    problems.Add($"{entry.User}: {bytes} bytes, manifest says {entry.Bytes}");
                if (messages != entry.Messages)
                    problems.Add($"{entry.User}: {messages} messages, manifest says {entry.Messages}");
                if (sha256 != entry.Sha256)
                    problems.Add($"{entry.User}: sha256 {sha256} differs from the manifest's {entry.Sha256}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                problems.Add($"{entry.User}: cannot read {entry.File}: {e.Message}");
            }
        }
        return problems;
    }

    private static async Task<(long Messages, long Bytes, string Sha256)> DigestAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var digest = new MboxDigest();
        var buffer = new byte[128 * 1024];
        int read;
        while ((read = await gzip.ReadAsync(buffer, cancellationToken)) > 0)
            digest.Append(buffer.AsSpan(0, read));
        return digest.Complete();
    }
}
