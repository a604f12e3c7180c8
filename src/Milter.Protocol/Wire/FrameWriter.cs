using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Milter.Protocol.Wire;

/// <summary>
/// Writes whole frames into a buffer writer (a <c>PipeWriter</c>): the length is computed first from
/// the parts, then everything is written in one span. The caller flushes once per answer.
/// </summary>
public static class FrameWriter
{
    /// <summary>A frame with no payload: CONTINUE, ACCEPT, ABORT, QUIT, ...</summary>
    public static void Write(IBufferWriter<byte> output, byte code)
    {
        var span = output.GetSpan(5);
        BinaryPrimitives.WriteUInt32BigEndian(span, 1);
        span[4] = code;
        output.Advance(5);
    }

    /// <summary>A frame whose payload is raw bytes (BODY, REPLBODY).</summary>
    public static void Write(IBufferWriter<byte> output, byte code, ReadOnlySpan<byte> payload)
    {
        var length = 1 + payload.Length;
        var span = output.GetSpan(4 + length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        span[4] = code;
        payload.CopyTo(span[5..]);
        output.Advance(4 + length);
    }

    /// <summary>A frame whose payload is NUL-terminated strings (each followed by its NUL).</summary>
    public static void WriteStrings(IBufferWriter<byte> output, byte code, params ReadOnlySpan<string> strings)
    {
        var length = 1;
        foreach (var s in strings)
            length += Encoding.UTF8.GetByteCount(s) + 1;
        var span = output.GetSpan(4 + length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        span[4] = code;
        var at = 5;
        foreach (var s in strings)
            at += WriteCString(span[at..], s);
        output.Advance(4 + length);
    }

    /// <summary>A frame whose payload starts with a big-endian uint32 and then NUL-terminated strings.</summary>
    public static void WriteUInt32AndStrings(IBufferWriter<byte> output, byte code, uint value, params ReadOnlySpan<string> strings)
    {
        var length = 1 + 4;
        foreach (var s in strings)
            length += Encoding.UTF8.GetByteCount(s) + 1;
        var span = output.GetSpan(4 + length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        span[4] = code;
        BinaryPrimitives.WriteUInt32BigEndian(span[5..], value);
        var at = 9;
        foreach (var s in strings)
            at += WriteCString(span[at..], s);
        output.Advance(4 + length);
    }

    /// <summary>Writes <paramref name="s"/> and its NUL; returns the bytes written.</summary>
    public static int WriteCString(Span<byte> destination, string s)
    {
        var n = Encoding.UTF8.GetBytes(s, destination);
        destination[n] = 0;
        return n + 1;
    }
}
