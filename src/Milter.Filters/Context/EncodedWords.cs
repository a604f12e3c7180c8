using System.Collections.Frozen;
using System.Text;

namespace Milter.Filters.Context;

/// <summary>
/// Header text as a person reads it: folding removed and RFC 2047 encoded words
/// (<c>=?charset?B?...?=</c>, <c>=?charset?Q?...?=</c>) decoded in any charset .NET knows,
/// code pages included. A word that does not decode stays as it was written.
/// </summary>
public static class EncodedWords
{
    /// <summary>Unfolds and decodes a header value.</summary>
    public static string Decode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = Unfold(value);
        if (!text.Contains("=?", StringComparison.Ordinal))
            return text.Trim();

        var result = new StringBuilder(text.Length);
        var pending = new List<byte>();     // bytes of adjacent words in one charset, decoded together
        Encoding? pendingEncoding = null;   // so a character split across two words survives
        var lastWordEnd = 0;
        var charsets = new Charsets();
        var i = 0;
        while (i < text.Length)
        {
            if (TryReadWord(text, i, out var word) && charsets.Find(word.Charset) is { } encoding
                && DecodePayload(word.Encoding, word.Payload) is { } bytes)
            {
                // Whitespace between two encoded words is not part of the text (RFC 2047 section 6.2).
                if (pendingEncoding is not null && pendingEncoding.CodePage != encoding.CodePage)
                    Flush(result, pending, ref pendingEncoding);
                pendingEncoding = encoding;
                pending.AddRange(bytes);
                i = lastWordEnd = word.End;
                continue;
            }
            if (pendingEncoding is not null)
            {
                if (char.IsWhiteSpace(text[i]))
                {
                    i++; // maybe the gap before another word: decided by what follows
                    continue;
                }
                Flush(result, pending, ref pendingEncoding);
                result.Append(text, lastWordEnd, i - lastWordEnd);
            }
            result.Append(text[i]);
            i++;
        }
        if (pendingEncoding is not null)
            Flush(result, pending, ref pendingEncoding);
        return result.ToString().Trim();
    }

    /// <summary>Removes header folding: a line break followed by whitespace is a continuation (RFC 5322 2.2.3).</summary>
    public static string Unfold(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.AsSpan().IndexOfAny('\r', '\n') < 0)
            return value;
        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (c is not ('\r' or '\n'))
                sb.Append(c);
        }
        return sb.ToString();
    }

    private static void Flush(StringBuilder result, List<byte> pending, ref Encoding? encoding)
    {
        result.Append(encoding!.GetString([.. pending]));
        pending.Clear();
        encoding = null;
    }

    private readonly record struct Word(string Charset, char Encoding, string Payload, int End);

    // =?charset?E?payload?= with no whitespace inside (RFC 2047 section 2). Neither charset nor
    // payload may hold a '?', so each scan stops at the next '?': linear over the whole header
    // even when it is a megabyte of hostile "=?".
    private static bool TryReadWord(string text, int start, out Word word)
    {
        word = default;
        if (start + 1 >= text.Length || text[start] != '=' || text[start + 1] != '?')
            return false;
        var charsetEnd = ScanToQuestionMark(text, start + 2);
        if (charsetEnd < 0 || charsetEnd == start + 2 || charsetEnd + 2 >= text.Length || text[charsetEnd + 2] != '?')
            return false;
        var enc = char.ToUpperInvariant(text[charsetEnd + 1]);
        if (enc is not ('B' or 'Q'))
            return false;
        var payloadStart = charsetEnd + 3;
        var payloadEnd = ScanToQuestionMark(text, payloadStart);
        if (payloadEnd < 0 || payloadEnd + 1 >= text.Length || text[payloadEnd + 1] != '=')
            return false;
        word = new Word(text[(start + 2)..charsetEnd], enc, text[payloadStart..payloadEnd], payloadEnd + 2);
        return true;
    }

    private static int ScanToQuestionMark(string text, int from)
    {
        for (var i = from; i < text.Length; i++)
        {
            if (text[i] == '?')
                return i;
            if (char.IsWhiteSpace(text[i]))
                return -1;
        }
        return -1;
    }

    // The charsets of one header value, each looked up once. .NET answers an unknown name with an
    // exception, and a hostile Subject can hold thousands of encoded words in made-up charsets
    // (about 34 ms of CPU for 100 KB, one exception a word): the names .NET has built in and the
    // code pages are found without one, and only a few other names a header are tried; past them,
    // words in other unknown names stay as written.
    private sealed class Charsets
    {
        private const int MaxTried = 4;
        // .NET's built-in encodings by name, and the aliases it knows for the three that mail uses.
        private static readonly FrozenDictionary<string, int> BuiltIn = Encoding.GetEncodings()
            .Select(e => (e.Name, e.CodePage))
            .Concat(Aliases(65001, "utf8", "unicode-1-1-utf-8", "unicode-2-0-utf-8", "x-unicode20utf8"))
            .Concat(Aliases(20127, "ascii", "ansi_x3.4-1968", "ansi_x3.4-1986", "cp367", "csascii", "ibm367", "iso-ir-6",
                "iso646-us", "iso_646.irv:1991", "us"))
            .Concat(Aliases(28591, "latin1", "cp819", "csisolatin1", "ibm819", "iso-ir-100", "iso8859-1", "iso_8859-1",
                "iso_8859-1:1987", "l1"))
            .DistinctBy(e => e.Item1, StringComparer.OrdinalIgnoreCase)
            .ToFrozenDictionary(e => e.Item1, e => e.Item2, StringComparer.OrdinalIgnoreCase);

        private static IEnumerable<(string, int)> Aliases(int codePage, params string[] names) =>
            names.Select(n => (n, codePage));
        private readonly Dictionary<string, Encoding?> _seen = new(StringComparer.OrdinalIgnoreCase);
        private int _tried;

        public Encoding? Find(string charset)
        {
            if (!_seen.TryGetValue(charset, out var found))
                _seen[charset] = found = Lookup(charset);
            return found;
        }

        private Encoding? Lookup(string charset)
        {
            // RFC 2231 lets a language ride along: =?utf-8*en?Q?...?=
            var star = charset.IndexOf('*', StringComparison.Ordinal);
            var name = star >= 0 ? charset[..star] : charset;
            // The code pages (windows-1252, koi8-r, iso-2022-jp, ...) without registering the
            // provider process-wide; null for a name it does not have.
            if (CodePagesEncodingProvider.Instance.GetEncoding(name) is { } codePage)
                return codePage;
            if (!BuiltIn.TryGetValue(name, out var builtIn))
            {
                // Other names only by asking.
                if (_tried >= MaxTried)
                    return null;
                _tried++;
            }
            try
            {
                return builtIn != 0 ? Encoding.GetEncoding(builtIn) : Encoding.GetEncoding(name);
            }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
            {
                return null;
            }
        }
    }

    private static byte[]? DecodePayload(char encoding, string payload) =>
        encoding == 'B' ? DecodeBase64(payload) : DecodeQ(payload);

    private static byte[]? DecodeBase64(string payload)
    {
        // Senders drop the padding often enough to be worth forgiving.
        var padded = (payload.Length % 4) switch
        {
            0 => payload,
            2 => payload + "==",
            3 => payload + "=",
            _ => null,
        };
        if (padded is null)
            return null;
        var buffer = new byte[padded.Length / 4 * 3];
        return Convert.TryFromBase64String(padded, buffer, out var written) ? buffer[..written] : null;
    }

    private static byte[]? DecodeQ(string payload)
    {
        var bytes = new List<byte>(payload.Length);
        for (var i = 0; i < payload.Length; i++)
        {
            var c = payload[i];
            if (c == '_')
                bytes.Add(0x20);
            else if (c == '=')
            {
                if (i + 2 >= payload.Length || !char.IsAsciiHexDigit(payload[i + 1]) || !char.IsAsciiHexDigit(payload[i + 2]))
                    return null;
                bytes.Add(Convert.ToByte(payload.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (c is > ' ' and < (char)0x7f)
                bytes.Add((byte)c);
            else
                return null;
        }
        return [.. bytes];
    }
}
