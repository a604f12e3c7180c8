using System.IO.Compression;
using System.Text;
using MilterHost.Native;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// Streams one log file into a <see cref="MaillogScanner"/>, line by line in a fixed buffer: plain or
/// gzip (told by its first two bytes, so <c>maillog.1</c>, <c>maillog.2.gz</c> or a gzip without the
/// extension all read), and lines longer than the limit skipped rather than buffered.
/// </summary>
/// <remarks>
/// Given where the last run stopped, a plain file is read from there: the same file (device and inode)
/// from the saved offset, or from the start when it shrank (copytruncate); a new file (rotated) from the
/// start, after the rest of the old one, found by its inode beside it (<c>maillog.1</c>,
/// <c>maillog-20261205</c>), is read to its end. A gzip file never grows: read once. The returned
/// position is after the last complete line; a line still being written is left for the next run.
/// </remarks>
internal static class LogFileReader
{
    private const int BufferBytes = 64 * 1024;

    /// <param name="from">Where the last run stopped in this path; null: read it whole.</param>
    /// <param name="keepPosition">A position will be saved: leave a last line without its newline for the next run.</param>
    /// <returns>Where the next run should start; null when the file could not be identified.</returns>
    public static async Task<FilePosition?> ReadAsync(string path, FilePosition? from, bool keepPosition, MaillogScanner scanner,
        int maxLineLength, CancellationToken cancellationToken)
    {
        // syslog keeps writing while we read: share everything.
        await using var file = Open(path);
        FilePosition? here = Posix.TryStatus((int)file.SafeFileHandle.DangerousGetHandle(), out var status)
            ? new FilePosition(status.Id.Device, status.Id.Inode, 0) : null;
        var gzip = await IsGzipAsync(file, cancellationToken);
        var sameFile = from is not null && here is not null && from.Device == here.Device && from.Inode == here.Inode;
        if (gzip)
        {
            if (sameFile)
                return from;
            await using var content = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
            await ReadLinesAsync(content, scanner, maxLineLength, wholeTail: true, cancellationToken);
            return here is null ? null : here with { Offset = file.Length };
        }

        long start = 0;
        if (sameFile)
            start = file.Length >= from!.Offset ? from.Offset : 0;
        else if (from is not null && FindRotated(path, from) is { } rotated)
            await FinishRotatedAsync(rotated, from.Offset, scanner, maxLineLength, cancellationToken);
        file.Position = start;
        var consumed = await ReadLinesAsync(file, scanner, maxLineLength, wholeTail: !keepPosition, cancellationToken);
        return here is null ? null : here with { Offset = start + consumed };
    }

    private static FileStream Open(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.Open,
        Access = FileAccess.Read,
        Share = FileShare.ReadWrite | FileShare.Delete,
        BufferSize = 0,
        Options = FileOptions.SequentialScan | FileOptions.Asynchronous,
    });

    private static async Task<bool> IsGzipAsync(FileStream file, CancellationToken cancellationToken)
    {
        var magic = new byte[2];
        var sniffed = await file.ReadAtLeastAsync(magic, 2, throwOnEndOfStream: false, cancellationToken);
        file.Position = 0;
        return sniffed == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <summary>The file beside <paramref name="path"/> whose name extends it and which is the saved inode.</summary>
    private static string? FindRotated(string path, FilePosition saved)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var name = Path.GetFileName(path);
        try
        {
            foreach (var candidate in Directory.EnumerateFiles(folder, name + "*"))
            {
                if (candidate != Path.GetFullPath(path) && Posix.TryStatusOfPath(candidate, out var status) && status.Regular
                    && status.Id.Device == saved.Device && status.Id.Inode == saved.Inode)
                    return candidate;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An unreadable folder: the rest of the old file is lost to this run, the new one still reads.
        }
        return null;
    }

    private static async Task FinishRotatedAsync(string path, long offset, MaillogScanner scanner, int maxLineLength, CancellationToken cancellationToken)
    {
        await using var file = Open(path);
        if (await IsGzipAsync(file, cancellationToken) || file.Length < offset)
            return;
        file.Position = offset;
        await ReadLinesAsync(file, scanner, maxLineLength, wholeTail: true, cancellationToken);
    }

    private static Task<long> ReadLinesAsync(Stream content, MaillogScanner scanner, int maxLineLength, bool wholeTail,
        CancellationToken cancellationToken) =>
        ReadLinesAsync(content, maxLineLength, wholeTail, line =>
        {
            if (line is null)
                scanner.Skip();
            else
                scanner.Feed(line);
        }, cancellationToken);

    /// <summary>
    /// Hands every non-empty line to <paramref name="onLine"/> (null for one over the limit, which is
    /// never buffered); returns the bytes consumed up to and including the last newline. A last line
    /// without a newline is handed on only when <paramref name="wholeTail"/> (the input is complete).
    /// </summary>
    internal static async Task<long> ReadLinesAsync(Stream content, int maxLineLength, bool wholeTail, Action<string?> onLine,
        CancellationToken cancellationToken)
    {
        // Invalid UTF-8 (8-bit headers echoed into the log) becomes U+FFFD rather than an error.
        var utf8 = new UTF8Encoding(false, false);
        var buffer = new byte[BufferBytes];
        // UTF-8 takes up to 3 bytes per UTF-16 unit: a line of maxLineLength characters fits.
        var line = new MemoryStream(256);
        var overlong = false;
        long consumed = 0, total = 0;
        int read;
        while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
        {
            var chunk = buffer.AsSpan(0, read);
            total += read;
            while (!chunk.IsEmpty)
            {
                var newline = chunk.IndexOf((byte)'\n');
                var part = newline < 0 ? chunk : chunk[..newline];
                if (!overlong)
                {
                    if (line.Length + part.Length > maxLineLength * 3L)
                    {
                        overlong = true;
                        line.SetLength(0);
                    }
                    else
                    {
                        line.Write(part);
                    }
                }
                if (newline < 0)
                    break;
                Emit();
                chunk = chunk[(newline + 1)..];
                consumed = total - chunk.Length;
            }
        }
        if (wholeTail && (line.Length > 0 || overlong))
        {
            Emit();
            consumed = total;
        }
        return consumed;

        void Emit()
        {
            var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
            if (!bytes.IsEmpty && bytes[^1] == '\r')
                bytes = bytes[..^1];
            var text = overlong ? null : utf8.GetString(bytes);
            if (overlong || text!.Length > maxLineLength)
                onLine(null);
            else if (text.Length > 0)
                onLine(text);
            line.SetLength(0);
            overlong = false;
        }
    }
}
