using Microsoft.Win32.SafeHandles;

namespace MilterHost.Tools.Backup;

/// <summary>
/// The first <c>length</c> bytes of a locked mailbox, read by offset (pread) from its descriptor, as a
/// read-only stream: what was there when the lock was taken, and nothing the holder appends later.
/// </summary>
internal sealed class LockedRange(SafeFileHandle handle, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var want = (int)Math.Min(buffer.Length, length - _position);
        if (want <= 0)
            return 0;
        var read = RandomAccess.Read(handle, buffer[..want], _position);
        _position += read;
        return read;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
