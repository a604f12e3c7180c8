using System.Globalization;

namespace Milter.TestSupport;

/// <summary>
/// One SMTP reply as the client saw it, every line with its code, e.g.
/// <c>550 5.1.1 &lt;x@example.com&gt;... User unknown</c>.
/// </summary>
/// <param name="Code">The three-digit reply code.</param>
/// <param name="Lines">The reply's lines as sent, without line ends (<c>250-first</c>, ..., <c>250 last</c>).</param>
public sealed record SmtpResponse(int Code, IReadOnlyList<string> Lines)
{
    private const string AcceptedSuffix = " Message accepted for delivery";

    /// <summary>The reply as sent, lines joined by <c>\n</c>; what assertions compare.</summary>
    public string Text => string.Join('\n', Lines);

    /// <summary>True for 2xx and 3xx.</summary>
    public bool IsPositive => Code is >= 200 and < 400;

    /// <summary>
    /// The queue id sendmail names when it accepts a message
    /// (<c>250 2.0.0 6AT2YQje009165 Message accepted for delivery</c>), else null.
    /// </summary>
    public string? AcceptedQueueId
    {
        get
        {
            var last = Lines[^1];
            if (Code != 250 || !last.EndsWith(AcceptedSuffix, StringComparison.Ordinal))
            {
                return null;
            }

            var words = last[..^AcceptedSuffix.Length].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return words.Length >= 2 ? words[^1] : null;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Text;

    /// <summary>True when <paramref name="line"/> ends a reply (<c>250 text</c> or a bare <c>250</c>).</summary>
    internal static bool IsLastLine(string line) => line.Length == 3 || (line.Length > 3 && line[3] == ' ');

    /// <summary>Builds a reply from its lines, checking that they carry one code and that only the last ends it.</summary>
    internal static SmtpResponse FromLines(IReadOnlyList<string> lines)
    {
        if (lines.Count == 0)
        {
            throw new FormatException("An SMTP reply has at least one line.");
        }

        var code = CodeOf(lines[0]);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (CodeOf(line) != code || IsLastLine(line) != (i == lines.Count - 1) || (!IsLastLine(line) && line[3] != '-'))
            {
                throw new FormatException($"Malformed SMTP reply line '{line}' in [{string.Join(" | ", lines)}].");
            }
        }

        return new SmtpResponse(code, [.. lines]);
    }

    private static int CodeOf(string line) =>
        line.Length >= 3 && int.TryParse(line.AsSpan(0, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code >= 200 && code <= 599
            ? code
            : throw new FormatException($"'{line}' does not start with an SMTP reply code.");
}
