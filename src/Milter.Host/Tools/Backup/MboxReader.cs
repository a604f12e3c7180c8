namespace MilterHost.Tools.Backup;

/// <summary>
/// Splits an mbox into its messages, each exactly as stored: from its <c>From </c> line up to the next
/// one, with the blank line before it and any <c>&gt;From </c> quoting untouched. A message starts at a
/// <c>From </c> line at the start of the file or right after an empty line, the rule
/// <see cref="MboxMessageCounter"/> counts by. Text before the first <c>From </c> line, if any, comes out
/// as one piece of its own.
/// </summary>
internal sealed class MboxReader(Stream mbox)
{
    private const int BufferSize = 128 * 1024;
    private static ReadOnlySpan<byte> FromSpace => "From "u8;

    private readonly byte[] _buffer = new byte[BufferSize];
    private int _start;
    private int _end;
    private bool _eof;
    private bool _previousBlank = true;
    private readonly MemoryStream _line = new();
    private MemoryStream? _pending;

    /// <summary>The next message, or null at the end of the mbox.</summary>
    public async Task<byte[]?> ReadAsync(CancellationToken cancellationToken)
    {
        var message = _pending ?? new MemoryStream();
        _pending = null;
        while (await ReadLineAsync(cancellationToken) is { } line)
        {
            var startsMessage = _previousBlank && line.AsSpan().StartsWith(FromSpace);
            _previousBlank = line.Length == 1 || (line.Length == 2 && line[0] == (byte)'\r');
            if (startsMessage && message.Length > 0)
            {
                _pending = new MemoryStream();
                _pending.Write(line);
                return message.ToArray();
            }
            message.Write(line);
        }
        return message.Length > 0 ? message.ToArray() : null;
    }

    /// <summary>One line with its newline (the last may have none), or null at the end.</summary>
    private async Task<byte[]?> ReadLineAsync(CancellationToken cancellationToken)
    {
        _line.SetLength(0);
        while (true)
        {
            var newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                _line.Write(_buffer, _start, newline + 1);
                _start += newline + 1;
                return _line.ToArray();
            }
            _line.Write(_buffer, _start, _end - _start);
            _start = _end = 0;
            if (_eof)
                return _line.Length > 0 ? _line.ToArray() : null;
            var read = await mbox.ReadAsync(_buffer, cancellationToken);
            if (read == 0)
                _eof = true;
            _end = read;
        }
    }
}
