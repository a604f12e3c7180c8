using System.Text;

namespace Milter.Filters.Relay;

/// <summary>
/// An envelope recipient taken apart the way a relay check must see it. Anything that could make
/// an MTA forward the mail elsewhere after accepting it for a local domain is marked
/// <see cref="IsRouted"/>: <c>user%remote@local</c>, <c>"user@remote"@local</c>,
/// <c>remote!user@local</c>, <c>@local:user@remote</c> source routes, and addresses that do not
/// parse. A routed recipient is never one of our mailboxes.
/// </summary>
public sealed record RecipientAddress
{
    private RecipientAddress(string written, string localPart, string? domain, bool isRouted)
    {
        Written = written;
        LocalPart = localPart;
        Domain = domain;
        IsRouted = isRouted;
    }

    /// <summary>The address as the client wrote it, without angle brackets.</summary>
    public string Written { get; }

    /// <summary>The local part, unquoted and unescaped, case kept.</summary>
    public string LocalPart { get; }

    /// <summary>
    /// The domain without trailing dots, its ASCII letters lowercased and any other character kept
    /// (<c>[192.0.2.1]</c> for a literal); null when unqualified. Unicode case rules would turn the
    /// Kelvin sign into <c>k</c> and make a foreign domain look like a local one.
    /// </summary>
    public string? Domain { get; }

    /// <summary>Routing syntax or an address that does not parse: never local.</summary>
    public bool IsRouted { get; }

    /// <summary>The local part without a <c>+detail</c>: <c>user+list</c> -> <c>user</c>.</summary>
    public string BaseLocalPart
    {
        get
        {
            var plus = LocalPart.IndexOf('+', StringComparison.Ordinal);
            return plus > 0 ? LocalPart[..plus] : LocalPart;
        }
    }

    /// <summary>The <c>+detail</c> without the plus, or null.</summary>
    public string? Detail
    {
        get
        {
            var plus = LocalPart.IndexOf('+', StringComparison.Ordinal);
            return plus > 0 ? LocalPart[(plus + 1)..] : null;
        }
    }

    /// <summary>
    /// True when the mail stays here: not routed, and unqualified (<c>postmaster</c>) or in a local domain.
    /// </summary>
    public bool IsLocal(LocalDomains localDomains)
    {
        ArgumentNullException.ThrowIfNull(localDomains);
        return !IsRouted && (Domain is null || localDomains.Contains(Domain));
    }

    /// <summary>Takes an envelope address apart (with or without angle brackets). Never throws.</summary>
    public static RecipientAddress Parse(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var written = Protocol.Commands.AngleBrackets.Strip(address);
        var s = written;
        // RFC 5321 source route "@hop1,@hop2:user@final": deprecated, and only ever useful to relay.
        if (s.StartsWith('@'))
            return Routed(written, s);

        var at = LastUnquoted(s, '@');
        var rawLocal = at < 0 ? s : s[..at];
        var local = Unquote(rawLocal);
        if (local is null || local.Length == 0)
            return Routed(written, rawLocal);
        var routed = local.AsSpan().IndexOfAny("@%!:,") >= 0;
        if (at < 0)
            return new RecipientAddress(written, local, null, routed);

        var domain = AsciiLower(s[(at + 1)..].Trim().TrimEnd('.'));
        if (!IsDomain(domain))
            return Routed(written, local);
        return new RecipientAddress(written, local, domain, routed);
    }

    public override string ToString() => Domain is null ? LocalPart : $"{LocalPart}@{Domain}";

    /// <summary>
    /// The mailbox sendmail takes from an envelope address as the client wrote it. sendmail hands the
    /// milter that text as written, but delivers to (or records as the sender) what its parser keeps:
    /// no comments (<c>a(x)@b</c>), no whitespace outside quotes, only the text inside the last
    /// <c>&lt;</c> and the <c>&gt;</c> after it (<c>&lt;a@b&gt;x@y</c> and <c>x@y&lt;a@b&gt;</c> are both
    /// <c>a@b</c>), and no source route (<c>&lt;@hop:a@b&gt;</c>). Quoted strings and backslash escapes
    /// stay as written, for <see cref="Parse"/>. Without any of that, the address without its angle
    /// brackets, the same instance as <see cref="Written"/>.
    /// </summary>
    public static string Mailbox(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var written = Protocol.Commands.AngleBrackets.Strip(address);
        if (!written.AsSpan().ContainsAny(Dressing) && !written.StartsWith('@'))
            return written;
        var text = WithoutComments(address);
        // sendmail's "innermost item": the last '<' outside quotes, up to the '>' after it.
        var open = LastUnquoted(text, '<');
        var close = open < 0 ? -1 : IndexOfUnquoted(text[(open + 1)..], '>') is >= 0 and var after ? open + 1 + after : -1;
        if (open >= 0)
            text = close > open ? text[(open + 1)..close] : text[(open + 1)..];
        // A source route "@hop1,@hop2:user@final": sendmail delivers to user@final.
        if (text.StartsWith('@') && IndexOfUnquoted(text, ':') is > 0 and var colon)
            text = text[(colon + 1)..];
        return text;
    }

    // What sendmail's parser reads differently from the text: comments, spaces, angle brackets, a route.
    private static readonly System.Buffers.SearchValues<char> Dressing = System.Buffers.SearchValues.Create("()<> \t");

    // Comments and whitespace outside quoted strings removed, as sendmail's tokenizer drops them: nested
    // comments count, a quote inside a comment does not open a string, and a backslash escapes the
    // next character everywhere (kept with it outside comments).
    private static string WithoutComments(string text)
    {
        var sb = new StringBuilder(text.Length);
        var depth = 0;
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\\')
            {
                if (depth == 0)
                {
                    sb.Append(c);
                    if (i + 1 < text.Length)
                        sb.Append(text[i + 1]);
                }
                i++;
            }
            else if (quoted)
            {
                sb.Append(c);
                quoted = c != '"';
            }
            else if (c == '(')
                depth++;
            else if (c == ')')
                depth = Math.Max(0, depth - 1);
            else if (depth == 0 && !char.IsWhiteSpace(c))
            {
                sb.Append(c);
                quoted = c == '"';
            }
        }
        return sb.ToString();
    }

    private static int IndexOfUnquoted(string s, char wanted) => Unquoted(s, wanted, last: false);

    private static int LastUnquoted(string s, char wanted) => Unquoted(s, wanted, last: true);

    // The first or last <paramref name="wanted"/> outside quoted strings, a backslash escaping the next character.
    private static int Unquoted(string s, char wanted, bool last)
    {
        var found = -1;
        var quoted = false;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                quoted = !quoted;
            else if (s[i] == wanted && !quoted)
            {
                found = i;
                if (!last)
                    break;
            }
        }
        return found;
    }

    // Parsed for every recipient by several filters: text that needs no change is returned as it is.
    private static string AsciiLower(string text) =>
        !text.AsSpan().ContainsAnyInRange('A', 'Z') ? text : string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
                span[i] = char.IsAsciiLetterUpper(source[i]) ? (char)(source[i] | 0x20) : source[i];
        });

    private static RecipientAddress Routed(string written, string local) => new(written, local, null, true);

    // "a\"b"  ->  a"b ; user\@x -> user@x ; null when a quote is left open.
    private static string? Unquote(string local)
    {
        if (!local.AsSpan().ContainsAny('"', '\\'))
            return local;
        var sb = new StringBuilder(local.Length);
        var quoted = false;
        for (var i = 0; i < local.Length; i++)
        {
            var c = local[i];
            if (c == '\\')
            {
                if (++i >= local.Length)
                    return null;
                sb.Append(local[i]);
            }
            else if (c == '"')
                quoted = !quoted;
            else
                sb.Append(c);
        }
        return quoted ? null : sb.ToString();
    }

    private static bool IsDomain(string domain)
    {
        if (domain.Length == 0)
            return false;
        if (domain[0] == '[')
            return domain.Length > 2 && domain[^1] == ']' && domain.IndexOfAny(['[', ']', '@'], 1, domain.Length - 2) < 0;
        if (domain[0] == '.' || domain.Contains("..", StringComparison.Ordinal))
            return false;
        foreach (var c in domain)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' || c > 0x7f))
                return false;
        }
        return true;
    }
}
