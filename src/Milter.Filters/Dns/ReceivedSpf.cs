using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Milter.Filters.Dns;

/// <summary>
/// The <c>Received-SPF</c> trace header of RFC 7208 section 9.1: the result, a comment saying it in
/// words, and the key-value pairs (<c>receiver</c>, <c>client-ip</c>, <c>envelope-from</c>,
/// <c>helo</c>, <c>identity</c>). The sender and HELO name are the client's own text: they are
/// written as quoted strings, with control and format characters dropped, so they cannot end the header or
/// add a field.
/// </summary>
public static class ReceivedSpf
{
    public const string HeaderName = "Received-SPF";

    // "result (HOST: ..." or "receiver=HOST": the two ways a Received-SPF names who wrote it.
    private static readonly Regex CommentHost = new(@"^\s*[A-Za-z]+\s*\(\s*([^\s:()]+)\s*:", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);
    private static readonly Regex ReceiverKey = new(@"(?:^|[;\s)])receiver\s*=\s*""?([^\s;""]+)", RegexOptions.NonBacktracking | RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <summary>The header's value for <paramref name="check"/> of <paramref name="client"/>, written by <paramref name="receiver"/>.</summary>
    /// <param name="sender">MAIL FROM without brackets; empty for the null sender.</param>
    public static string Value(SpfCheck check, IPAddress client, string sender, string? helo, string receiver)
    {
        ArgumentNullException.ThrowIfNull(check);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(receiver);
        var ip = client.IsIPv4MappedToIPv6 ? client.MapToIPv4().ToString() : client.ToString();
        var identity = check.OfHelo ? "postmaster@" + check.Domain : sender;
        var text = new StringBuilder(Keyword(check.Result)).Append(" (").Append(receiver).Append(": ")
            .Append(Comment(Explanation(check.Result, identity, ip))).Append(") ");
        text.Append("receiver=").Append(Token(receiver)).Append("; ");
        text.Append("client-ip=").Append(Token(ip)).Append("; ");
        text.Append("envelope-from=").Append(Quoted(sender)).Append("; ");
        if (helo is not null)
            text.Append("helo=").Append(Token(helo)).Append("; ");
        text.Append("identity=").Append(check.OfHelo ? "helo" : "mailfrom").Append(';');
        return text.ToString();
    }

    /// <summary>
    /// True when a <c>Received-SPF</c> value says it was written by a host <paramref name="isOurs"/>
    /// accepts, in its comment or its <c>receiver=</c>: a client's copy of it would be a forgery.
    /// </summary>
    public static bool ClaimsHost(string value, Func<string, bool> isOurs)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(isOurs);
        var comment = CommentHost.Match(value);
        if (comment.Success && isOurs(comment.Groups[1].Value))
            return true;
        foreach (Match receiver in ReceiverKey.Matches(value))
        {
            if (isOurs(receiver.Groups[1].Value))
                return true;
        }
        return false;
    }

    /// <summary>The result as the header writes it (RFC 7208 section 9.1): <c>pass</c>, <c>softfail</c>, <c>temperror</c>, ...</summary>
    public static string Keyword(SpfResult result) => result switch
    {
        SpfResult.SoftFail => "softfail",
        SpfResult.TempError => "temperror",
        SpfResult.PermError => "permerror",
        _ => result.ToString().ToLowerInvariant(),
    };

    private static string Explanation(SpfResult result, string identity, string ip) => result switch
    {
        SpfResult.Pass => $"domain of {identity} designates {ip} as permitted sender",
        SpfResult.Fail => $"domain of {identity} does not designate {ip} as permitted sender",
        SpfResult.SoftFail => $"domain of transitioning {identity} does not designate {ip} as permitted sender",
        SpfResult.Neutral => $"{ip} is neither permitted nor denied by domain of {identity}",
        SpfResult.None => $"domain of {identity} does not publish an SPF record",
        SpfResult.TempError => $"error in processing during lookup of {identity}",
        _ => $"domain of {identity} has a malformed SPF record",
    };

    // A comment may hold anything but unbalanced parentheses and a bare backslash: quote them (quoted-pair).
    private static string Comment(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in Printable(text).AsSpan())
        {
            if (c is '(' or ')' or '\\')
                builder.Append('\\');
            builder.Append(c);
        }
        return builder.ToString();
    }

    // A dot-atom as is (a host name, an IPv4 address); anything else as a quoted string.
    private static string Token(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_') && text[0] != '.' && text[^1] != '.' && !text.Contains("..", StringComparison.Ordinal)
            ? text
            : Quoted(text);

    private static string Quoted(string text)
    {
        var builder = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in Printable(text).AsSpan())
        {
            if (c is '"' or '\\')
                builder.Append('\\');
            builder.Append(c);
        }
        return builder.Append('"').ToString();
    }

    // Control characters dropped (they could end the header), and format characters too: a bidi
    // override or an invisible tag in a sender would make the header read otherwise than it says.
    private static string Printable(string text)
    {
        if (!text.Any(c => char.IsControl(c) || char.IsSurrogate(c) || char.GetUnicodeCategory(c) == UnicodeCategory.Format))
            return text;
        var builder = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (!Rune.IsControl(rune) && Rune.GetUnicodeCategory(rune) != UnicodeCategory.Format)
                builder.Append(rune);
        }
        return builder.ToString();
    }
}
