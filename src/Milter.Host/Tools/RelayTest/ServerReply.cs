namespace MilterHost.Tools.RelayTest;

/// <summary>One SMTP reply as the server sent it: the code and every line, continuation lines included.</summary>
/// <param name="Lines">The raw lines without CRLF (<c>250-mx.example.com Hello</c>, <c>250 HELP</c>).</param>
public sealed record ServerReply(int Code, IReadOnlyList<string> Lines)
{
    /// <summary>The first line, which carries the verdict and the enhanced status code.</summary>
    public string Text => Lines[0];

    /// <summary>2xx or 3xx: the server took the command.</summary>
    public bool IsPositive => Code is >= 200 and < 400;

    /// <summary>4xx: refused for now.</summary>
    public bool IsTransient => Code is >= 400 and < 500;

    /// <summary>421: the server is closing the connection.</summary>
    public bool IsClosing => Code == 421;

    /// <summary>
    /// Adds one line to a reply being read. Returns the finished reply after its last line
    /// (<c>ddd text</c> or a bare <c>ddd</c>), null while continuation lines (<c>ddd-text</c>) come.
    /// </summary>
    /// <exception cref="FormatException">The line is no SMTP reply line.</exception>
    public static ServerReply? Accumulate(List<string> lines, string line)
    {
        if (line.Length < 3 || !char.IsAsciiDigit(line[0]) || !char.IsAsciiDigit(line[1]) || !char.IsAsciiDigit(line[2])
            || (line.Length > 3 && line[3] is not (' ' or '-')) || line[0] is < '2' or > '5')
            throw new FormatException($"not an SMTP reply line: '{Shorten(line)}'");
        lines.Add(line);
        if (line.Length > 3 && line[3] == '-')
            return null;
        var code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        return new ServerReply(code, [.. lines]);
    }

    public override string ToString() => Text;

    private static string Shorten(string line) => line.Length <= 80 ? line : line[..80] + "...";
}
