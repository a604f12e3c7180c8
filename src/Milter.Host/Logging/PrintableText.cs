using System.Globalization;
using System.Text;

namespace MilterHost.Logging;

/// <summary>
/// Text from outside (an SMTP client's addresses and HELO name, a DNS answer, a name in a log or
/// spool being read) made safe to write on an administrator's terminal or into a log line: every
/// control character (ESC, CR, LF, backspace, NUL, DEL, the C1 set), format character (bidirectional
/// overrides among them), separator other than the plain space, unassigned code point and lone
/// surrogate is written <c>\xHH</c> or <c>\uHHHH</c> (both halves of one outside the BMP), as the decision line writes them
/// (<see cref="DecisionFields"/>). Letters of every script stay as they are. So no such text can move
/// the cursor, recolour or retitle a terminal, or start a line of its own.
/// </summary>
internal static class PrintableText
{
    /// <summary><paramref name="text"/> with every unsafe character escaped; the same instance when there is none.</summary>
    public static string Of(string text) => Of(text, keepLineFeeds: false);

    /// <param name="keepLineFeeds">True for whole output, where <c>\n</c> ends the program's own lines.</param>
    public static string Of(string text, bool keepLineFeeds)
    {
        var first = FirstUnsafe(text, keepLineFeeds);
        if (first < 0)
            return text;
        var escaped = new StringBuilder(text.Length + 16).Append(text, 0, first);
        for (var i = first; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                var low = text[++i];
                if (IsUnsafe(new Rune(c, low)))
                {
                    // Both halves escaped, as JSON writes a character outside the BMP.
                    AppendEscape(escaped, c);
                    AppendEscape(escaped, low);
                }
                else
                    escaped.Append(c).Append(low);
            }
            else if (IsUnsafe(c) && !(keepLineFeeds && c == '\n'))
                AppendEscape(escaped, c);
            else
                escaped.Append(c);
        }
        return escaped.ToString();
    }

    /// <summary>Controls, format characters, every separator but the plain space, unassigned code points, surrogates.</summary>
    public static bool IsUnsafe(char c) =>
        c is < ' ' or '\x7f' || (c > '\x7f' && (char.IsSurrogate(c) || IsUnsafe(char.GetUnicodeCategory(c))));

    /// <summary>A character outside the BMP that is a format character (tags, musical formatting) or unassigned.</summary>
    public static bool IsUnsafe(Rune rune) => IsUnsafe(Rune.GetUnicodeCategory(rune));

    private static bool IsUnsafe(UnicodeCategory category) =>
        category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator or UnicodeCategory.OtherNotAssigned;

    /// <summary><c>\xHH</c> below U+0100, else <c>\uHHHH</c>.</summary>
    public static void AppendEscape(StringBuilder text, char c)
    {
        // Formatted into the builder itself: no string per character.
        if (c < 0x100)
            text.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
        else
            text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
    }

    private static int FirstUnsafe(string text, bool keepLineFeeds)
    {
        // Printable ASCII is the common case: only what lies outside it is looked at closely.
        var start = text.AsSpan().IndexOfAnyExceptInRange(' ', '~');
        if (start < 0)
            return -1;
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                if (IsUnsafe(new Rune(c, text[i + 1])))
                    return i;
                i++;
            }
            else if (IsUnsafe(c) && !(keepLineFeeds && c == '\n'))
                return i;
        }
        return -1;
    }
}
