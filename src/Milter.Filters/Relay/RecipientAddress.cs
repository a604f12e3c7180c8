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

        var at = LastUnquotedAt(s);
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

    // Parsed for every recipient by several filters: text that needs no change is returned as it is.
    private static string AsciiLower(string text) =>
        !text.AsSpan().ContainsAnyInRange('A', 'Z') ? text : string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
                span[i] = char.IsAsciiLetterUpper(source[i]) ? (char)(source[i] | 0x20) : source[i];
        });

    private static RecipientAddress Routed(string written, string local) => new(written, local, null, true);

    private static int LastUnquotedAt(string s)
    {
        var last = -1;
        var quoted = false;
        for (var i = 0; i < s.Length; i++)
        {
            switch (s[i])
            {
                case '\\':
                    i++;
                    break;
                case '"':
                    quoted = !quoted;
                    break;
                case '@' when !quoted:
                    last = i;
                    break;
            }
        }
        return last;
    }

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
