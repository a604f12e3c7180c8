using System.Globalization;
using System.Text.RegularExpressions;
using Milter.Protocol.Replies;

namespace Milter.Filters.Recipients;

/// <summary>
/// sendmail's <c>error:</c> mailer as an alias or virtusertable target:
/// <c>error:5.1.1:550 No such user</c>, <c>error:550 Gone</c>, or a named status such as
/// <c>error:nouser No such user</c> (sendmail's sysexits names).
/// </summary>
internal static partial class ErrorTarget
{
    private const string Prefix = "error:";

    public static bool IsError(string target) => target.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>The reply an <c>error:</c> target gives, or null when the text is not an error target.</summary>
    public static SmtpReply? Parse(string target)
    {
        if (!IsError(target))
            return null;
        var rest = target[Prefix.Length..].Trim();
        var m = Numeric().Match(rest);
        if (m.Success)
        {
            var code = int.Parse(m.Groups["code"].Value, CultureInfo.InvariantCulture);
            if (code is >= 400 and <= 599)
            {
                var dsn = m.Groups["dsn"].Success ? m.Groups["dsn"].Value : null;
                if (dsn is not null && dsn[0] != (char)('0' + code / 100))
                    dsn = null; // class and code disagree: keep the code, which decides the outcome
                return new SmtpReply(code, dsn, TextOr(m.Groups["text"].Value));
            }
        }
        var space = rest.IndexOfAny([' ', '\t']);
        var name = space < 0 ? rest : rest[..space];
        var text = space < 0 ? "" : rest[(space + 1)..];
        var (c, enhanced) = name.ToLowerInvariant() switch
        {
            "nohost" => (550, "5.1.2"),
            "unavailable" => (550, "5.0.0"),
            "noperm" => (550, "5.7.1"),
            "tempfail" => (451, "4.0.0"),
            _ => (550, "5.1.1"), // nouser, and whatever else: the recipient does not exist
        };
        return new SmtpReply(c, enhanced, TextOr(text));
    }

    private static string TextOr(string text)
    {
        var t = text.Trim();
        return t.Length == 0 ? "User unknown" : t;
    }

    [GeneratedRegex(@"^(?:(?<dsn>[245]\.\d{1,3}\.\d{1,3}):)?(?<code>\d{3})(?:\s+(?<text>.*))?$", RegexOptions.CultureInvariant)]
    private static partial Regex Numeric();
}
