using System.Globalization;
using System.IO.Compression;
using Microsoft.Win32.SafeHandles;
using MilterHost.Native;

namespace MilterHost.Tools.Backup;

/// <summary>
/// Backs up every mbox in the spool while holding the locks delivery agents and mail clients honour, so
/// each copy holds whole messages; the spool files are only ever read. The locks are held just for a
/// plain copy to a private temporary file; compressing happens after they are released.
/// </summary>
public sealed class MailBackup(TimeProvider timeProvider)
{
    private const int CopyBuffer = 128 * 1024;

    public async Task<BackupReport> RunAsync(BackupOptions options, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(options.Spool))
            return new BackupReport { Fatal = $"spool {options.Spool} does not exist" };
        var started = timeProvider.GetLocalNow();
        try
        {
            BackupFiles.CreateFolder(options.Destination);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new BackupReport { Fatal = $"cannot create {options.Destination}: {e.Message}" };
        }
        string folder;
        try
        {
            // A folder of its own, also for a second run the same day: a rerun after mail was lost
            // must not replace the copies that still hold it.
            folder = BackupFiles.CreateRunFolder(options.Destination, started);
        }
        catch (IOException e)
        {
            return new BackupReport { Fatal = e.Message };
        }

        var (mailboxes, ignored) = Scan(options.Spool);
        var results = new List<MailboxResult>();
        foreach (var (user, path) in mailboxes)
        {
            if (await BackUpAsync(user, path, folder, options.Locking, cancellationToken) is { } result)
                results.Add(result);
            else
                ignored.Add($"{path}: gone during the run, not a mailbox any more");
        }

        IReadOnlyList<string>? problems;
        bool verified, complete;
        try
        {
            var manifest = WriteManifest(folder, options.Spool, results, started);
            // --keep deletes backups, so it acts only on a run whose every copy was read back and matched.
            var verify = options.Verify || options.Keep is not null;
            problems = verify ? await BackupVerifier.VerifyAsync(folder, null, cancellationToken) : null;
            // A spool with no mailbox at all is more likely an unmounted file system than a server without
            // mail: such a run is never verified nor complete, so it never prunes the backups that hold the mail.
            verified = results.Count > 0 && problems is { Count: 0 };
            complete = verified && results.All(r => r.Entry is not null);
            if (verified)
                (manifest with { Complete = complete, Verified = true }).Write(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full disk, most often: copies without a manifest that says so are no backup; nothing is pruned.
            return new BackupReport { Fatal = $"cannot write the manifest in {folder}: {e.Message}", Mailboxes = results };
        }
        // A mailbox skipped by this run keeps the folders of its newest copies (BackupRotation).
        var pruned = verified && options.Keep is { } keep ? BackupRotation.Prune(options.Destination, keep, [.. results.Select(r => r.User)], folder) : null;
        return new BackupReport
        {
            Folder = folder, Mailboxes = results, Ignored = ignored, Complete = complete, Pruned = pruned?.Removed ?? [],
            KeptFor = pruned?.KeptFor ?? [], VerifyProblems = problems,
        };
    }

    /// <summary>
    /// The spool's mailboxes by name: regular files only, as lstat sees them (never opened to find out).
    /// Lock files and hidden files are passed over silently; FIFOs, devices, symlinks and folders are
    /// listed as ignored, since a mailbox should not be one.
    /// </summary>
    private static (List<(string User, string Path)> Mailboxes, List<string> Ignored) Scan(string spool)
    {
        var mailboxes = new List<(string, string)>();
        var ignored = new List<string>();
        foreach (var entry in new DirectoryInfo(spool).EnumerateFileSystemInfos().OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            if (entry.Name.StartsWith('.')
                || entry.Name.EndsWith(".lock", StringComparison.Ordinal)
                || entry.Name.Contains(".lock.", StringComparison.Ordinal))
                continue;
            if (!Posix.TryStatusOfPath(entry.FullName, out var status))
                continue; // gone since the listing
            if (status.Regular)
                mailboxes.Add((entry.Name, entry.FullName));
            else
                ignored.Add($"{entry.FullName}: {FileKinds.Describe(status.Kind)}, not a mailbox");
        }
        return (mailboxes, ignored);
    }

    /// <returns>Null when the file was gone by the time it was to be copied.</returns>
    private async Task<MailboxResult?> BackUpAsync(string user, string path, string folder, MailboxLockOptions locking, CancellationToken cancellationToken)
    {
        var attempt = await MailboxLock.AcquireAsync(path, MailboxAccess.Read, locking, timeProvider, cancellationToken);
        if (attempt.Lock is null)
        {
            // A delivery agent's temporary file, or a mailbox its client deleted once empty: there is
            // nothing to back up, and a run is not incomplete for it.
            if (!Posix.TryStatusOfPath(path, out _, out var errno) && errno == Tmds.Linux.LibC.ENOENT)
                return null;
            return new MailboxResult(user, null, attempt.Failure, attempt.RemovedStaleDotLock);
        }

        var partial = Path.Combine(folder, "." + user + ".mbox.partial");
        var file = BackupFiles.MailboxFileOf(user);
        try
        {
            (long Messages, long Bytes, string Sha256) copied;
            var copiedAt = timeProvider.GetUtcNow();
            var ownership = attempt.Lock.Ownership;
            using (var held = attempt.Lock)
                copied = Copy(held, partial);
            await CompressAsync(partial, Path.Combine(folder, file), cancellationToken);
            var entry = new ManifestEntry(user, file, copied.Messages, copied.Bytes, copied.Sha256, copiedAt) { Ownership = ownership };
            return new MailboxResult(user, entry, null, attempt.RemovedStaleDotLock);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new MailboxResult(user, null, $"copy failed: {e.Message}", attempt.RemovedStaleDotLock);
        }
        finally
        {
            attempt.Lock.Dispose();
            File.Delete(partial);
        }
    }

    private static (long Messages, long Bytes, string Sha256) Copy(MailboxLock held, string partial)
    {
        using var source = new SafeFileHandle(held.Descriptor, ownsHandle: false);
        using var output = BackupFiles.CreatePrivate(partial);
        using var digest = new MboxDigest();
        var buffer = new byte[CopyBuffer];
        // Up to the size seen under the lock: whatever a writer ignoring the locks adds later is not ours.
        while (digest.Bytes < held.Size)
        {
            var want = (int)Math.Min(buffer.Length, held.Size - digest.Bytes);
            var read = RandomAccess.Read(source, buffer.AsSpan(0, want), digest.Bytes);
            if (read == 0)
                break;
            digest.Append(buffer.AsSpan(0, read));
            output.Write(buffer, 0, read);
        }
        output.Flush(flushToDisk: true);
        return digest.Complete();
    }

    private static async Task CompressAsync(string partial, string destination, CancellationToken cancellationToken)
    {
        var temporary = destination + ".tmp";
        try
        {
            await using (var input = File.OpenRead(partial))
            await using (var output = BackupFiles.CreatePrivate(temporary))
            {
                await using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
                    await input.CopyToAsync(gzip, CopyBuffer, cancellationToken);
                output.Flush(flushToDisk: true);
            }
            File.Move(temporary, destination, overwrite: true);
        }
        catch
        {
            // A half-written copy (full disk, stopped) would take the space the next run needs.
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>The manifest of this run's folder: the copies it made, nothing else.</summary>
    private static BackupManifest WriteManifest(string folder, string spool, List<MailboxResult> results, DateTimeOffset created)
    {
        var entries = results.Where(r => r.Entry is not null).Select(r => r.Entry!);
        var manifest = new BackupManifest(created, spool, entries.OrderBy(e => e.User, StringComparer.Ordinal).ToArray());
        manifest.Write(folder);
        return manifest;
    }
}
