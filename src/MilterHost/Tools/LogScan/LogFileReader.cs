using System.IO.Compression;
using System.Text;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// Streams one log file into a <see cref="MaillogScanner"/>, line by line in a fixed buffer: plain or
/// gzip (told by its first two bytes, so <c>maillog.1</c>, <c>maillog.2.gz</c> or a gzip without the
/// extension all read), and lines longer than the limit skipped rather than buffered.
/// </summary>
internal static class LogFileReader
{
    private const int BufferChars = 64 * 1024;

    public static async Task ReadAsync(string path, MaillogScanner scanner, int maxLineLength, CancellationToken cancellationToken)
    {
        // syslog keeps writing while we read: share everything.
        await using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 0,
            Options = FileOptions.SequentialScan | FileOptions.Asynchronous,
        });
        var magic = new byte[2];
        var sniffed = await file.ReadAtLeastAsync(magic, 2, throwOnEndOfStream: false, cancellationToken);
        file.Position = 0;
        Stream content = sniffed == 2 && magic[0] == 0x1f && magic[1] == 0x8b
            ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true)
            : file;
        await using (content.ConfigureAwait(false))
        {
            // Invalid UTF-8 (8-bit headers echoed into the log) becomes U+FFFD rather than an error.
            using var reader = new StreamReader(content, new UTF8Encoding(false, false), false, BufferChars, leaveOpen: true);
            await ReadLinesAsync(reader, scanner, maxLineLength, cancellationToken);
        }
    }

    internal static async Task ReadLinesAsync(TextReader reader, MaillogScanner scanner, int maxLineLength, CancellationToken cancellationToken)
    {
        var buffer = new char[BufferChars];
        var line = new StringBuilder(256);
        var overlong = false;
        int read;
        while ((read = await reader.ReadAsync(buffer.AsMemory(), cancellationToken)) > 0)
        {
            var chunk = buffer.AsSpan(0, read);
            while (!chunk.IsEmpty)
            {
                var newline = chunk.IndexOf('\n');
                var part = newline < 0 ? chunk : chunk[..newline];
                if (!overlong)
                {
                    if (line.Length + part.Length > maxLineLength)
                    {
                        overlong = true;
                        line.Clear();
                    }
                    else
                    {
                        line.Append(part);
                    }
                }
                if (newline < 0)
                    break;
                Emit();
                chunk = chunk[(newline + 1)..];
            }
        }
        if (line.Length > 0 || overlong)
            Emit();

        void Emit()
        {
            if (overlong)
            {
                scanner.SkipOverlong();
            }
            else
            {
                if (line.Length > 0 && line[^1] == '\r')
                    line.Length--;
                if (line.Length > 0)
                    scanner.Feed(line.ToString());
            }
            line.Clear();
            overlong = false;
        }
    }
}
