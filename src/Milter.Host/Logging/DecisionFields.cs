using System.Globalization;
using System.Text;

namespace MilterHost.Logging;

/// <summary>
/// The escaping of milterhost's decision line, written by <see cref="DecisionLog"/> and read back by
/// <c>logscan</c>: fields are <c>key=value</c> separated by one space. A value is written bare when it
/// holds only printable characters other than space, <c>"</c>, <c>\</c> and <c>=</c>; otherwise in
/// double quotes, where <c>\"</c> and <c>\\</c> stand for themselves and <c>=</c>, CR, LF and every
/// other control, format or separator character is written <c>\xHH</c> or <c>\uHHHH</c>. So no value
/// can hold a line break, a quote that ends it early, or the text <c>key=</c> of a field of its own.
/// </summary>
internal static class DecisionFields
{
    /// <summary>A value as it is written after <c>key=</c>.</summary>
    /// <param name="bracketsNeedQuotes">For the client's name, which comes before <c>[address]</c>.</param>
    public static string Value(string value, bool bracketsNeedQuotes = false) =>
        IsBare(value, bracketsNeedQuotes) ? value : Quoted(value);

    /// <summary>True when <paramref name="value"/> is written as it is, without quotes.</summary>
    public static bool IsBare(string value, bool bracketsNeedQuotes = false) =>
        value.Length > 0 && !value.AsSpan().ContainsAny(Special) && !NeedsEscape(value, bracketsNeedQuotes);

    /// <summary>Always quoted: the reply, so it reads as one string even when it holds no space.</summary>
    public static string Quoted(string value)
    {
        var text = new StringBuilder(value.Length + 8).Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '"' || c == '\\')
                text.Append('\\').Append(c);
            else if (c == ' ')
                text.Append(c);
            else if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                // A whole pair is one character: kept unless it is a format character (tags) or unassigned.
                var low = value[++i];
                if (PrintableText.IsUnsafe(new Rune(c, low)))
                {
                    PrintableText.AppendEscape(text, c);
                    PrintableText.AppendEscape(text, low);
                }
                else
                    text.Append(c).Append(low);
            }
            else if (c == '=' || PrintableText.IsUnsafe(c))
                PrintableText.AppendEscape(text, c);
            else
                text.Append(c);
        }
        return text.Append('"').ToString();
    }

    private static readonly System.Buffers.SearchValues<char> Special = System.Buffers.SearchValues.Create(" \"\\=");

    private static bool NeedsEscape(string value, bool bracketsNeedQuotes)
    {
        foreach (var c in value)
        {
            if (PrintableText.IsUnsafe(c) || (bracketsNeedQuotes && c is '[' or ']'))
                return true;
        }
        return false;
    }

    /// <summary>
    /// Splits a decision line (after <c>QUEUEID: </c>) into its fields. <c>client=</c> may be followed by
    /// a space and <c>[address]</c> (its name came first). False when anything is out of shape: a token
    /// that is not <c>key=value</c>, a key twice, two spaces, a bad escape, an unterminated quote.
    /// </summary>
    public static bool TryRead(string body, out Dictionary<string, string> fields)
    {
        fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < body.Length)
        {
            var keyStart = i;
            while (i < body.Length && (char.IsAsciiLetterLower(body[i]) || body[i] == '_'))
                i++;
            if (i == keyStart || i >= body.Length || body[i] != '=')
                return false;
            var key = body[keyStart..i];
            i++;
            var quoted = i < body.Length && body[i] == '"';
            if (!TryReadValue(body, ref i, out var value))
                return false;
            if (key == "client" && (quoted || !value.StartsWith('[')) && i + 1 < body.Length && body[i] == ' ' && body[i + 1] == '[')
            {
                // "client=NAME [ADDRESS]": the address is ours (from the socket), never escaped.
                var close = body.IndexOf(']', i + 2);
                if (close < 0)
                    return false;
                fields["client_name"] = value;
                value = body[(i + 1)..(close + 1)];
                i = close + 1;
            }
            if (!fields.TryAdd(key, value))
                return false;
            if (i == body.Length)
                break;
            if (body[i] != ' ' || i + 1 == body.Length)
                return false;
            i++;
        }
        return fields.Count > 0;
    }

    private static bool TryReadValue(string body, ref int i, out string value)
    {
        value = "";
        if (i < body.Length && body[i] == '"')
        {
            var text = new StringBuilder();
            i++;
            while (i < body.Length && body[i] != '"')
            {
                var c = body[i++];
                if (c != '\\')
                {
                    text.Append(c);
                    continue;
                }
                if (i >= body.Length)
                    return false;
                var kind = body[i++];
                var digits = kind switch { 'x' => 2, 'u' => 4, '"' or '\\' => 0, _ => -1 };
                if (digits < 0 || i + digits > body.Length)
                    return false;
                if (digits == 0)
                {
                    text.Append(kind);
                    continue;
                }
                if (!int.TryParse(body.AsSpan(i, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                    return false;
                text.Append((char)code);
                i += digits;
            }
            if (i >= body.Length)
                return false;
            i++;
            value = text.ToString();
            return true;
        }
        var start = i;
        while (i < body.Length && body[i] != ' ')
        {
            if (body[i] is '"' or '\\' or '=')
                return false;
            i++;
        }
        value = body[start..i];
        return i > start;
    }
}
