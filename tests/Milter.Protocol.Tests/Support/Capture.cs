using System.Buffers.Binary;

namespace Milter.Protocol.Tests.Support;

/// <summary>Which side wrote a captured frame.</summary>
public enum Direction
{
    /// <summary><c>mta&gt;</c>: the MTA to the filter.</summary>
    ToFilter,
    /// <summary><c>&lt;flt</c>: the filter to the MTA.</summary>
    ToMta,
}

/// <summary>One whole frame of a capture: length prefix, command or reply byte, payload.</summary>
public sealed record CapturedFrame(Direction Direction, byte[] Bytes, int Line)
{
    public byte Code => Bytes[4];

    public byte[] Payload => Bytes[5..];
}

/// <summary>
/// A recorded milter conversation from tests/testdata/captures: one frame per line,
/// <c>mta&gt; HEX</c> or <c>&lt;flt HEX</c>, <c>#</c> comments.
/// </summary>
public sealed record Capture(string Name, IReadOnlyList<CapturedFrame> Frames)
{
    /// <summary>Every capture in the directory, by name without ".txt".</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "accepted-two-rcpts", "banned-connect", "greylisted", "ipv6-client", "large-body",
        "mixed-rcpts", "null-sender", "postfix-greylisted", "rset-and-two-messages", "subject-banned",
    ];

    private static readonly Lazy<string> Directory = new(FindDirectory);

    public IEnumerable<CapturedFrame> ToFilter => Frames.Where(f => f.Direction == Direction.ToFilter);

    public IEnumerable<CapturedFrame> ToMta => Frames.Where(f => f.Direction == Direction.ToMta);

    /// <summary>All MTA-to-filter bytes in wire order.</summary>
    public byte[] MtaStream => ToFilter.SelectMany(f => f.Bytes).ToArray();

    /// <summary>All filter-to-MTA bytes in wire order.</summary>
    public byte[] FilterStream => ToMta.SelectMany(f => f.Bytes).ToArray();

    public static Capture Load(string name) => Parse(name, File.ReadAllText(Path.Combine(Directory.Value, name + ".txt")));

    public static Capture Parse(string name, string text)
    {
        var frames = new List<CapturedFrame>();
        var lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            Direction direction;
            if (line.StartsWith("mta>", StringComparison.Ordinal))
                direction = Direction.ToFilter;
            else if (line.StartsWith("<flt", StringComparison.Ordinal))
                direction = Direction.ToMta;
            else
                throw new FormatException($"{name}:{lineNo}: expected 'mta>' or '<flt', got '{Shorten(line)}'");
            var bytes = Convert.FromHexString(line[4..].Trim());
            if (bytes.Length < 5 || BinaryPrimitives.ReadUInt32BigEndian(bytes) != bytes.Length - 4)
                throw new FormatException($"{name}:{lineNo}: the frame's length prefix does not match its {bytes.Length} bytes");
            frames.Add(new CapturedFrame(direction, bytes, lineNo));
        }
        return new Capture(name, frames);
    }

    /// <summary>
    /// MILTER_CAPTURES when set (tests/testdata/record-captures.sh points it at a fresh recording);
    /// otherwise the repository's tests/testdata/captures, copied beside the test assembly by the build.
    /// </summary>
    private static string FindDirectory()
    {
        var fromEnv = Environment.GetEnvironmentVariable("MILTER_CAPTURES");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            if (!System.IO.Directory.Exists(fromEnv))
                throw new DirectoryNotFoundException($"MILTER_CAPTURES is set to '{fromEnv}', which is not a directory");
            return fromEnv;
        }
        var beside = Path.Combine(AppContext.BaseDirectory, "captures");
        if (!File.Exists(Path.Combine(beside, "README.md")))
            throw new DirectoryNotFoundException($"no captures in {beside}: the build copies tests/testdata/captures there");
        return beside;
    }

    private static string Shorten(string s) => s.Length > 40 ? s[..40] + "..." : s;
}
