using System.Buffers.Binary;
using System.Text;

namespace Milter.Protocol.Wire;

/// <summary>
/// Reads the fields of one payload in order, never indexing past its end: every shortfall becomes a
/// <see cref="ProtocolViolation.MalformedPayload"/> naming the command and the field.
/// </summary>
public ref struct PayloadReader
{
    private ReadOnlySpan<byte> _rest;
    private readonly string _command;

    public PayloadReader(ReadOnlySpan<byte> payload, string command)
    {
        _rest = payload;
        _command = command;
    }

    public readonly int Remaining => _rest.Length;

    public readonly bool End => _rest.IsEmpty;

    public byte ReadByte(string field)
    {
        if (_rest.IsEmpty) throw Malformed(field, "missing");
        var b = _rest[0];
        _rest = _rest[1..];
        return b;
    }

    public ushort ReadUInt16(string field)
    {
        if (_rest.Length < 2) throw Malformed(field, "shorter than 2 bytes");
        var v = BinaryPrimitives.ReadUInt16BigEndian(_rest);
        _rest = _rest[2..];
        return v;
    }

    public uint ReadUInt32(string field)
    {
        if (_rest.Length < 4) throw Malformed(field, "shorter than 4 bytes");
        var v = BinaryPrimitives.ReadUInt32BigEndian(_rest);
        _rest = _rest[4..];
        return v;
    }

    /// <summary>The bytes up to the next NUL (which is consumed).</summary>
    public ReadOnlySpan<byte> ReadCStringBytes(string field)
    {
        var nul = _rest.IndexOf((byte)0);
        if (nul < 0) throw Malformed(field, "not NUL-terminated");
        var s = _rest[..nul];
        _rest = _rest[(nul + 1)..];
        return s;
    }

    /// <summary>A NUL-terminated string, decoded as UTF-8 (invalid bytes become U+FFFD).</summary>
    public string ReadCString(string field) => Decode(ReadCStringBytes(field));

    /// <summary>Everything that is left.</summary>
    public ReadOnlySpan<byte> ReadRest()
    {
        var s = _rest;
        _rest = default;
        return s;
    }

    public readonly void ExpectEnd()
    {
        if (!_rest.IsEmpty) throw Malformed("end", $"{_rest.Length} unexpected trailing bytes");
    }

    public static string Decode(ReadOnlySpan<byte> bytes) => bytes.IsEmpty ? "" : Encoding.UTF8.GetString(bytes);

    private readonly MilterProtocolException Malformed(string field, string what) =>
        new(ProtocolViolation.MalformedPayload, $"{_command}: {field} {what}");
}
