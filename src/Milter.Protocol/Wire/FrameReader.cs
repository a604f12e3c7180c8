using System.Buffers;
using System.Buffers.Binary;

namespace Milter.Protocol.Wire;

/// <summary>
/// Cuts frames out of a buffered byte stream: <c>uint32 length</c> (big-endian, counting the command
/// byte and the payload), the command byte, <c>length - 1</c> payload bytes. The length is checked
/// before anything is buffered for it, so a hostile length never reserves memory: the caller's pipe
/// grows only with bytes that actually arrive.
/// </summary>
public static class FrameReader
{
    /// <summary>The 4-byte length prefix.</summary>
    public const int LengthSize = 4;

    /// <summary>
    /// Tries to take one whole frame from the start of <paramref name="buffer"/>. On success the buffer
    /// is advanced past it and <paramref name="payload"/> is a view into it (valid until the pipe is
    /// advanced). Returns false when more bytes are needed.
    /// </summary>
    /// <exception cref="MilterProtocolException">A length of 0 or above <paramref name="maxFrameSize"/>.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, int maxFrameSize, out byte command, out ReadOnlySequence<byte> payload)
    {
        command = 0;
        payload = default;
        if (buffer.Length < LengthSize)
            return false;

        uint length;
        if (buffer.FirstSpan.Length >= LengthSize)
        {
            length = BinaryPrimitives.ReadUInt32BigEndian(buffer.FirstSpan);
        }
        else
        {
            Span<byte> prefix = stackalloc byte[LengthSize];
            buffer.Slice(0, LengthSize).CopyTo(prefix);
            length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        }

        if (length == 0)
            throw new MilterProtocolException(ProtocolViolation.EmptyFrame, "frame length 0");
        if (length > (uint)maxFrameSize)
            throw new MilterProtocolException(ProtocolViolation.FrameTooLarge, $"frame length {length} exceeds the limit of {maxFrameSize}");

        if (buffer.Length - LengthSize < length)
            return false;

        var frame = buffer.Slice(LengthSize, length);
        command = frame.FirstSpan[0];
        payload = frame.Slice(1);
        buffer = buffer.Slice(frame.End);
        return true;
    }
}
