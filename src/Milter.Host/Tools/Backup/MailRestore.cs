using System.IO.Compression;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;
using MilterHost.Native;

namespace MilterHost.Tools.Backup;

/// <summary>
/// Puts backed-up messages back into the live spool: for each mailbox, under the same dot-lock and
/// fcntl lock a delivery agent takes (an exclusive write lock here, as we append), the messages of the
/// backup that the live mbox does not hold (by <see cref="MessageIdentity"/>) are appended as stored.
/// The live mbox is only ever appended to, never cut below what it held or rewritten (a write that
/// fails is cut back to the end of the last whole message appended), so mail that arrived since the
/// backup stays as it is, and a second run appends nothing. A backup that does not match its manifest
/// is not used.
/// </summary>
public sealed class MailRestore(TimeProvider timeProvider)
{
    public async Task<RestoreReport> RunAsync(RestoreOptions options, CancellationToken cancellationToken)
    {
        BackupManifest manifest;
        try
        {
            manifest = BackupManifest.Read(options.From);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException
            or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return new RestoreReport { Fatal = $"cannot read {Path.Combine(options.From, BackupManifest.FileName)}: {e.Message}" };
        }
        if (!Directory.Exists(options.Spool))
            return new RestoreReport { Fatal = $"spool {options.Spool} does not exist" };
        var unknown = options.Users.Where(u => manifest.Mailboxes.All(m => m.User != u)).ToArray();
        if (unknown.Length > 0)
            return new RestoreReport { Fatal = $"not in the backup {options.From}: {string.Join(", ", unknown)}" };

        var results = new List<RestoreResult>();
        foreach (var entry in manifest.Mailboxes.Where(m => options.Users.Count == 0 || options.Users.Contains(m.User)))
            results.Add(await RestoreAsync(entry, options, cancellationToken));
        return new RestoreReport { Mailboxes = results };
    }

    private async Task<RestoreResult> RestoreAsync(ManifestEntry entry, RestoreOptions options, CancellationToken cancellationToken)
    {
        RestoreResult Failed(string why) => new(entry.User, entry.Messages, 0, 0, 0, false, why);

        // A user name is a spool file name: nothing that leaves the spool.
        if (entry.User.Length == 0 || entry.User.StartsWith('.') || entry.User.Contains('/') || entry.User.Contains('\0')
            || entry.User.EndsWith(".lock", StringComparison.Ordinal))
            return Failed($"'{entry.User}' is not a mailbox name");
        // The manifest names the file backup-mail wrote for this user, and nothing else: no path outside the folder.
        if (entry.File != BackupFiles.MailboxFileOf(entry.User))
            return Failed($"the manifest names the file '{entry.File}' for {entry.User}, not {BackupFiles.MailboxFileOf(entry.User)}: not used");
        // Whose mail it is: the uid the backup recorded, which must still be the account of that name
        // where there is one (a uid given to someone else since would get this user's mail).
        var account = Posix.FindUser(entry.User);
        var owner = entry.Ownership?.Owner ?? account?.Uid;
        if (owner is null)
            return Failed($"the backup does not record whose mailbox {entry.User} is, and this host has no account of that name");
        if (account is not null && account.Uid != owner)
            return Failed($"the backup recorded uid {owner} for {entry.User}, but the account {entry.User} is uid {account.Uid} now: restore it by hand (zcat {Path.Combine(options.From, entry.File)})");
        var backup = Path.Combine(options.From, entry.File);
        var problems = await BackupVerifier.VerifyAsync(options.From, [entry.User], cancellationToken);
        if (problems.Count > 0)
            return Failed($"backup does not match its manifest, not used: {string.Join("; ", problems)}");

        var mailbox = Path.Combine(options.Spool, entry.User);
        if (options.DryRun && !Posix.TryStatusOfPath(mailbox, out _, out var errno) && errno == Tmds.Linux.LibC.ENOENT)
        {
            var (backupMessages, missing, bytes) = await AppendMissingAsync(backup, new HashSet<string>(StringComparer.Ordinal), null, cancellationToken);
            return new RestoreResult(entry.User, backupMessages, 0, missing, bytes, true, null);
        }

        var access = options.DryRun ? MailboxAccess.Read : MailboxAccess.Append;
        // The recorded group (mail on most systems) and mode, without set-id, sticky, execute or world bits.
        var createAs = new MailboxOwner(owner.Value, entry.Ownership?.Group ?? account!.Gid, (ushort)((entry.Ownership?.Permissions ?? 0b110_000_000) & 0b110_110_000));
        var attempt = await MailboxLock.AcquireAsync(mailbox, access, options.Locking, timeProvider, cancellationToken, createAs);
        if (attempt.Lock is null)
            return Failed(attempt.Failure!);
        using var held = attempt.Lock;
        Appender? target = null;
        try
        {
            var (live, liveMessages, tail) = await ReadLiveAsync(held, cancellationToken);
            target = options.DryRun ? null : new Appender(held.Descriptor, held.Size, tail);
            var (inBackup, appended, appendedBytes) = await AppendMissingAsync(backup, live, target, cancellationToken);
            if (target is not null && appended > 0)
                target.Sync();
            return new RestoreResult(entry.User, inBackup, liveMessages, appended, appendedBytes, held.Created, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // The whole messages appended before a failed write stay (they were missing); say how many.
            if (target is { Messages: > 0 })
            {
                var synced = Posix.Sync(held.Descriptor);
                return new RestoreResult(entry.User, entry.Messages, 0, target.Messages, target.Bytes, held.Created,
                    synced == 0 ? e.Message : $"{e.Message}; fsync: {Posix.Message(synced)}");
            }
            return Failed(e.Message);
        }
    }

    /// <summary>The identities of the live mbox's messages, their number, and its last two bytes (to know how it ends).</summary>
    private static async Task<(HashSet<string> Identities, long Messages, byte[] Tail)> ReadLiveAsync(MailboxLock held, CancellationToken cancellationToken)
    {
        using var handle = new SafeFileHandle(held.Descriptor, ownsHandle: false);
        await using var stream = new LockedRange(handle, held.Size);
        var identities = new HashSet<string>(StringComparer.Ordinal);
        long messages = 0;
        await foreach (var message in IdentifyAsync(stream, cancellationToken))
        {
            identities.Add(message.Identity);
            messages++;
        }
        var tail = new byte[(int)Math.Min(2, held.Size)];
        RandomAccess.Read(handle, tail, held.Size - tail.Length);
        return (identities, messages, tail);
    }

    /// <summary>
    /// Each message whose identity is not in <paramref name="present"/> is appended (when a target is
    /// given) and added to it. Two passes over the backup, so that no message is ever held in memory
    /// whole: the first tells the missing messages by their identities, the second copies them.
    /// </summary>
    private static async Task<(long Messages, long Appended, long Bytes)> AppendMissingAsync(string backup, HashSet<string> present, Appender? target,
        CancellationToken cancellationToken)
    {
        var missing = new HashSet<long>();
        long messages = 0, bytes = 0;
        await using (var content = OpenBackup(backup))
        {
            await foreach (var message in IdentifyAsync(content, cancellationToken))
            {
                messages++;
                if (messages == 1 && !message.StartsWithFromLine)
                    throw new InvalidDataException($"{backup} is not an mbox: it does not start with a From_ line");
                if (!present.Add(message.Identity))
                    continue;
                missing.Add(messages);
                bytes += message.Length;
            }
        }
        if (target is null || missing.Count == 0)
            return (messages, missing.Count, bytes);

        await using (var content = OpenBackup(backup))
        {
            long ordinal = 0;
            var copying = false;
            await foreach (var piece in new MboxReader(content).ReadAsync(cancellationToken))
            {
                if (piece.StartsMessage)
                {
                    if (copying)
                        target.EndMessage();
                    copying = missing.Contains(++ordinal);
                }
                if (copying)
                    target.Append(piece.Bytes.Span);
            }
            if (copying)
                target.EndMessage();
            if (ordinal != messages)
                throw new InvalidDataException($"{backup} changed while it was read ({messages} messages, then {ordinal})");
        }
        return (messages, target.Messages, target.Bytes);
    }

    private static Stream OpenBackup(string backup)
    {
        var file = File.OpenRead(backup);
        return backup.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private readonly record struct IdentifiedMessage(string Identity, bool StartsWithFromLine, long Length);

    /// <summary>The messages of an mbox by their identities, streamed.</summary>
    private static async IAsyncEnumerable<IdentifiedMessage> IdentifyAsync(Stream mbox, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        MessageIdentity? current = null;
        long length = 0;
        try
        {
            await foreach (var piece in new MboxReader(mbox).ReadAsync(cancellationToken))
            {
                if (piece.StartsMessage && current is not null)
                {
                    yield return new IdentifiedMessage(current.Finish(), current.StartsWithFromLine, length);
                    current.Dispose();
                    current = null;
                }
                if (current is null)
                {
                    current = new MessageIdentity();
                    length = 0;
                }
                current.Append(piece.Bytes.Span);
                length += piece.Bytes.Length;
            }
            if (current is not null)
                yield return new IdentifiedMessage(current.Finish(), current.StartsWithFromLine, length);
        }
        finally
        {
            current?.Dispose();
        }
    }

    /// <summary>
    /// Appends whole messages to the locked mbox (O_APPEND), each separated from the one before by an
    /// empty line as mbox requires: a mailbox or message that does not end in one gets the newlines it
    /// lacks. A write that fails (a full disk, a quota) cuts the file back to where it ended before
    /// that message, so the mailbox never ends in part of one; the lock keeps deliveries out meanwhile.
    /// </summary>
    private sealed class Appender(int fd, long size, byte[] tail)
    {
        // What the file ends with: "" (empty), "\n\n" (a blank line), "x\n" or "xx" (not).
        private bool _endsWithBlankLine = tail.Length == 0 || tail.AsSpan().SequenceEqual("\n\n"u8);
        private bool _endsWithNewline = tail.Length == 0 || tail[^1] == (byte)'\n';
        // The file's length after the last whole message written.
        private long _whole = size;

        /// <summary>Whole messages appended so far.</summary>
        public long Messages { get; private set; }

        /// <summary>Their bytes, separators included.</summary>
        public long Bytes { get; private set; }

        // The message being written: its bytes so far, and its last two.
        private long _written = -1;
        private readonly byte[] _end = new byte[2];
        private int _endLength;

        /// <summary>The next piece of a message; the first piece of each goes after the separator the file needs.</summary>
        public void Append(ReadOnlySpan<byte> piece)
        {
            if (_written < 0)
            {
                var separator = _endsWithBlankLine ? ""u8 : _endsWithNewline ? "\n"u8 : "\n\n"u8;
                _written = WriteAll(separator);
                _endLength = 0;
            }
            _written += WriteAll(piece);
            // Keep the last two bytes of the message.
            if (piece.Length >= 2)
            {
                piece[^2..].CopyTo(_end);
                _endLength = 2;
            }
            else if (piece.Length == 1)
            {
                _end[0] = _endLength == 0 ? piece[0] : _end[1];
                _end[1] = piece[0];
                _endLength = Math.Min(_endLength + 1, 2);
            }
        }

        /// <summary>The message is whole: a write that fails from now on cuts the file back to its end.</summary>
        public void EndMessage()
        {
            if (_written < 0)
                return;
            _whole += _written;
            Messages++;
            Bytes += _written;
            var end = _end.AsSpan(0, _endLength);
            _endsWithNewline = end.EndsWith("\n"u8);
            _endsWithBlankLine = end.SequenceEqual("\n\n"u8);
            _written = -1;
        }

        /// <summary>The last message gets its closing blank line too, so the next delivery starts a message of its own.</summary>
        public void Sync()
        {
            if (!_endsWithBlankLine)
                _whole += WriteAll(_endsWithNewline ? "\n"u8 : "\n\n"u8);
            _endsWithBlankLine = true;
            var errno = Posix.Sync(fd);
            if (errno != 0)
                throw new IOException($"fsync: {Posix.Message(errno)}");
        }

        private int WriteAll(ReadOnlySpan<byte> data)
        {
            var errno = Posix.Write(fd, data);
            if (errno == 0)
                return data.Length;
            var cut = Posix.Truncate(fd, _whole);
            throw new IOException(cut == 0
                ? $"append failed ({Posix.Message(errno)}); the mailbox was cut back to its last whole message ({_whole} bytes)"
                : $"append failed ({Posix.Message(errno)}), and cutting the mailbox back to its last whole message ({_whole} bytes) failed too ({Posix.Message(cut)}): it may end in part of a restored message");
        }
    }
}
