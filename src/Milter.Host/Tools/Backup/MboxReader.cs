using System.Runtime.CompilerServices;

namespace MilterHost.Tools.Backup;

/// <summary>One piece of an mbox as <see cref="MboxReader"/> streams it; <see cref="StartsMessage"/> on the first piece of each message.</summary>
internal readonly record struct MboxPiece(bool StartsMessage, ReadOnlyMemory<byte> Bytes);

/// <summary>
/// Streams an mbox as its messages, each exactly as stored: from its <c>From </c> line up to the next
/// one, with the blank line before it and any <c>&gt;From </c> quoting untouched. A message starts at a
/// <c>From </c> line at the start of the file or right after an empty line, the rule
/// <see cref="MboxMessageCounter"/> counts by. Text before the first <c>From </c> line, if any, comes out
/// as one message of its own. A message comes in pieces of at most the buffer's size, so a message of
/// any size (a long line too) is read in that much memory.
/// </summary>
internal sealed class MboxReader(Stream mbox, int bufferSize = 128 * 1024)
{
    private static ReadOnlySpan<byte> FromSpace => "From "u8;

    private readonly byte[] _buffer = new byte[Math.Max(bufferSize, 2 * FromSpace.Length)];

    /// <summary>
    /// The mbox in pieces, in order; a piece's bytes are only valid until the next one is asked for.
    /// The first piece of the file starts a message, whatever it holds; an empty file has no piece.
    /// </summary>
    public async IAsyncEnumerable<MboxPiece> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The buffer holds [pieceStart, end): bytes not yet handed out, of which [start, end) not yet scanned.
        int pieceStart = 0, start = 0, end = 0;
        var eof = false;
        var startsMessage = true;
        var atLineStart = true;
        var previousBlank = true;
        // The current line so far, without its newline: its length, and whether its first byte is a CR
        // (a line of a lone CR before the newline is empty too).
        long lineLength = 0;
        var firstIsCr = false;
        while (true)
        {
            if (atLineStart)
            {
                // Whether this line starts a message needs its first five bytes (or the end of the file).
                if (end - start < FromSpace.Length && !eof)
                {
                    if (start > pieceStart)
                    {
                        yield return new MboxPiece(startsMessage, _buffer.AsMemory(pieceStart, start - pieceStart));
                        startsMessage = false;
                    }
                    _buffer.AsSpan(start, end - start).CopyTo(_buffer);
                    end -= start;
                    start = pieceStart = 0;
                    var read = await mbox.ReadAsync(_buffer.AsMemory(end), cancellationToken);
                    eof = read == 0;
                    end += read;
                    continue;
                }
                if (start == end)
                    break;
                if (previousBlank && _buffer.AsSpan(start, end - start).StartsWith(FromSpace))
                {
                    if (start > pieceStart)
                        yield return new MboxPiece(startsMessage, _buffer.AsMemory(pieceStart, start - pieceStart));
                    startsMessage = true;
                    pieceStart = start;
                }
                atLineStart = false;
                lineLength = 0;
                firstIsCr = _buffer[start] == (byte)'\r';
            }
            var newline = _buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                lineLength += newline;
                previousBlank = lineLength == 0 || (lineLength == 1 && firstIsCr);
                start += newline + 1;
                atLineStart = true;
                continue;
            }
            // The line goes on past what the buffer holds: hand out all of it and read on.
            lineLength += end - start;
            start = end;
            if (eof)
                break;
            if (start > pieceStart)
            {
                yield return new MboxPiece(startsMessage, _buffer.AsMemory(pieceStart, start - pieceStart));
                startsMessage = false;
            }
            start = end = pieceStart = 0;
            var more = await mbox.ReadAsync(_buffer, cancellationToken);
            eof = more == 0;
            end = more;
        }
        if (end > pieceStart)
            yield return new MboxPiece(startsMessage, _buffer.AsMemory(pieceStart, end - pieceStart));
    }
}
