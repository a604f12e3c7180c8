using System.Buffers.Binary;
using System.Text;

namespace Milter.Protocol.Tests.Support;

/// <summary>
/// Builds frames by hand, independently of the library's writers, so the parsers are checked against
/// the layout in milter-protocol.md rather than against themselves.
/// </summary>
public static class Bytes
{
    /// <summary>
    /// A frame of <paramref name="code"/> and parts: a string is written with its NUL, a byte or char
    /// as one byte, a ushort as 2 bytes and a uint as 4 (big-endian), a byte[] as is.
    /// </summary>
    public static byte[] Frame(char code, params object[] parts)
    {
        var payload = new List<byte>();
        foreach (var part in parts)
        {
            switch (part)
            {
                case string s:
                    payload.AddRange(Encoding.UTF8.GetBytes(s));
                    payload.Add(0);
                    break;
                case char c:
                    payload.Add(checked((byte)c));
                    break;
                case byte b:
                    payload.Add(b);
                    break;
                case ushort u:
                    payload.Add((byte)(u >> 8));
                    payload.Add((byte)u);
                    break;
                case uint u:
                    var four = new byte[4];
                    BinaryPrimitives.WriteUInt32BigEndian(four, u);
                    payload.AddRange(four);
                    break;
                case byte[] raw:
                    payload.AddRange(raw);
                    break;
                default:
                    throw new ArgumentException($"cannot write a {part.GetType().Name}", nameof(parts));
            }
        }
        var frame = new byte[4 + 1 + payload.Count];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(1 + payload.Count));
        frame[4] = checked((byte)code);
        payload.CopyTo(frame, 5);
        return frame;
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>What sendmail 8.17 sends first: OPTNEG version 6, actions 0x1ff, protocol 0x1fffff.</summary>
    public static byte[] SendmailOffer => Hex("0000000d4f00000006000001ff001fffff");

    public static byte[] Optneg(uint version, uint actions, uint protocol) => Frame('O', version, actions, protocol);

    public static byte[] Connect4(string host = "client.example", string address = "192.0.2.7", ushort port = 4321) =>
        Frame('C', host, '4', port, address);

    public static byte[] Macro(char stage, params (string Name, string Value)[] pairs) =>
        Frame('D', [stage, .. pairs.SelectMany(p => new object[] { p.Name, p.Value })]);

    public static byte[] Helo(string name = "client.example") => Frame('H', name);

    public static byte[] Mail(string sender = "<sender@remote.example>", params string[] args) => Frame('M', [sender, .. args]);

    public static byte[] Rcpt(string recipient = "<alice@example.com>", params string[] args) => Frame('R', [recipient, .. args]);

    public static byte[] Header(string name, string value) => Frame('L', name, value);

    public static byte[] Body(string text) => Frame('B', Encoding.ASCII.GetBytes(text));

    public static byte[] Bare(char code) => Frame(code);

    /// <summary>A reply frame with no payload (c, a, r, t, d, s, p).</summary>
    public static byte[] Reply(char code) => Frame(code);

    /// <summary>A REPLYCODE frame: 'y' and the text with its NUL.</summary>
    public static byte[] ReplyCode(string text) => Frame('y', text);

    /// <summary>The whole frames at the start of <paramref name="bytes"/>, by their length prefixes.</summary>
    public static int CountFrames(ReadOnlySpan<byte> bytes)
    {
        var frames = 0;
        for (var at = 0; at + 4 <= bytes.Length; frames++)
        {
            var next = at + 4 + (int)BinaryPrimitives.ReadUInt32BigEndian(bytes[at..]);
            if (next > bytes.Length)
                break;
            at = next;
        }
        return frames;
    }

    public static string ToHex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
