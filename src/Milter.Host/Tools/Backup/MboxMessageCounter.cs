namespace MilterHost.Tools.Backup;

/// <summary>
/// Counts messages in an mbox as it streams by: a message starts with a <c>From </c> line at the start
/// of the file or right after an empty line (mboxrd/mboxcl: a body line beginning "From " is written
/// as "&gt;From ", and never follows an empty line unescaped).
/// </summary>
internal sealed class MboxMessageCounter
{
    private const int HeadLength = 5;
    private static ReadOnlySpan<byte> FromSpace => "From "u8;

    private readonly byte[] _head = new byte[HeadLength];
    private int _headLength;
    private long _lineLength;
    private long _lines;
    private bool _previousBlank;

    public long Messages { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var newline = data.IndexOf((byte)'\n');
            var part = newline < 0 ? data : data[..newline];
            if (_headLength < HeadLength)
            {
                var take = Math.Min(HeadLength - _headLength, part.Length);
                part[..take].CopyTo(_head.AsSpan(_headLength));
                _headLength += take;
            }
            _lineLength += part.Length;
            if (newline < 0)
                return;
            EndLine();
            data = data[(newline + 1)..];
        }
    }

    /// <summary>Counts a last line that has no newline.</summary>
    public long Complete()
    {
        if (_lineLength > 0)
            EndLine();
        return Messages;
    }

    private void EndLine()
    {
        if ((_lines == 0 || _previousBlank) && _headLength == HeadLength && _head.AsSpan().SequenceEqual(FromSpace))
            Messages++;
        _previousBlank = _lineLength == 0 || (_lineLength == 1 && _head[0] == (byte)'\r');
        _lines++;
        _headLength = 0;
        _lineLength = 0;
    }
}
