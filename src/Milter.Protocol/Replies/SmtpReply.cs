using System.Text;

namespace Milter.Protocol.Replies;

/// <summary>
/// An SMTP reply the filter asks the MTA to send (SMFIR_REPLYCODE): a 4xx or 5xx code, an optional
/// enhanced status code (RFC 3463, e.g. <c>5.7.1</c>) and one or more lines of text.
/// </summary>
public sealed record SmtpReply
{
    /// <summary>The 3-digit reply code, 400–599.</summary>
    public int Code { get; }

    /// <summary>The enhanced status code (<c>x.y.z</c>) or null.</summary>
    public string? Enhanced { get; }

    /// <summary>The text lines; never empty; none contains CR or LF.</summary>
    public IReadOnlyList<string> Lines { get; }

    public SmtpReply(int code, string? enhanced, params IReadOnlyList<string> lines)
    {
        if (code is < 400 or > 599)
            throw new ArgumentOutOfRangeException(nameof(code), code, "a milter reply code must be 4xx or 5xx");
        if (enhanced is not null && !IsEnhancedCode(enhanced, code))
            throw new ArgumentException($"'{enhanced}' is not an enhanced status code matching {code}", nameof(enhanced));
        if (lines.Count == 0)
            lines = [""];
        foreach (var line in lines)
        {
            if (line.AsSpan().IndexOfAny('\r', '\n') >= 0 || line.Contains('\0'))
                throw new ArgumentException("reply text must not contain CR, LF or NUL", nameof(lines));
        }
        Code = code;
        Enhanced = enhanced;
        Lines = lines;
        _wireText = BuildWireText();
    }

    // Computed once: a reply is usually a shared constant answered many times.
    private readonly string _wireText;

    /// <summary>True for 4xx: a temporary failure.</summary>
    public bool IsTemporary => Code < 500;

    /// <summary>The verdict this reply stands for (Tempfail for 4xx, Reject for 5xx).</summary>
    public VerdictKind Kind => IsTemporary ? VerdictKind.Tempfail : VerdictKind.Reject;

    /// <summary>
    /// Parses <c>"550 5.7.1 Relaying denied"</c> (enhanced code optional). Returns false on anything
    /// that is not a 4xx/5xx reply.
    /// </summary>
    public static bool TryParse(string text, out SmtpReply? reply)
    {
        reply = null;
        if (text.Length < 3 || !int.TryParse(text.AsSpan(0, 3), System.Globalization.NumberStyles.None, null, out var code)
            || code is < 400 or > 599 || (text.Length > 3 && text[3] != ' '))
            return false;
        var rest = text.Length > 4 ? text[4..] : "";
        string? enhanced = null;
        var space = rest.IndexOf(' ');
        var first = space < 0 ? rest : rest[..space];
        if (IsEnhancedCode(first, code))
        {
            enhanced = first;
            rest = space < 0 ? "" : rest[(space + 1)..];
        }
        // "450 5.7.1 ...": a status code whose class contradicts the reply's. As text it would reach
        // the client as written, and Postfix calls such a reply malformed.
        else if (IsEnhancedStatusCode(first))
            return false;
        if (rest.AsSpan().IndexOfAny('\r', '\n') >= 0 || rest.Contains('\0'))
            return false;
        reply = new SmtpReply(code, enhanced, rest);
        return true;
    }

    public static SmtpReply Parse(string text) =>
        TryParse(text, out var reply) ? reply! : throw new FormatException($"'{text}' is not a 4xx/5xx SMTP reply");

    /// <summary>
    /// The REPLYCODE payload text (without its NUL): lines joined by CRLF, every line but the last
    /// written <c>550-5.7.1 text</c>, and each '%' doubled because sendmail runs the text through a
    /// printf-style formatter.
    /// </summary>
    public string ToWireText() => _wireText;

    private string BuildWireText()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < Lines.Count; i++)
        {
            if (i > 0) sb.Append("\r\n");
            sb.Append(Code).Append(i < Lines.Count - 1 ? '-' : ' ');
            if (Enhanced is not null) sb.Append(Enhanced).Append(' ');
            sb.Append(Lines[i].Replace("%", "%%", StringComparison.Ordinal));
        }
        return sb.ToString();
    }

    /// <summary>Same code, enhanced code and lines (a record would compare the list of lines by reference).</summary>
    public bool Equals(SmtpReply? other) =>
        other is not null && Code == other.Code && Enhanced == other.Enhanced && Lines.SequenceEqual(other.Lines, StringComparer.Ordinal);

    public override int GetHashCode() => HashCode.Combine(Code, Enhanced, Lines.Count, Lines[0]);

    /// <summary>The reply as the SMTP client sees its last line, e.g. <c>550 5.7.1 Relaying denied</c>.</summary>
    public override string ToString() =>
        Enhanced is null ? $"{Code} {string.Join(" / ", Lines)}" : $"{Code} {Enhanced} {string.Join(" / ", Lines)}";

    /// <summary>An enhanced status code for a reply of <paramref name="code"/>: its class is the code's first digit.</summary>
    internal static bool IsEnhancedCode(string s, int code) =>
        IsEnhancedStatusCode(s) && s[0] == (char)('0' + code / 100);

    /// <summary>Shaped as an RFC 3463 enhanced status code, whatever reply it goes with: class (2, 4 or 5).subject.detail, 1-3 digits each.</summary>
    public static bool IsEnhancedStatusCode(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        // Read in place: every greylist deferral and refusal builds a reply, and so passes here.
        if (s.Length < 5 || s[0] is not ('2' or '4' or '5') || s[1] != '.')
            return false;
        var rest = s.AsSpan(2);
        var dot = rest.IndexOf('.');
        if (dot is < 1 or > 3)
            return false;
        var subject = rest[..dot];
        var detail = rest[(dot + 1)..];
        return detail.Length is >= 1 and <= 3 && !subject.ContainsAnyExceptInRange('0', '9') && !detail.ContainsAnyExceptInRange('0', '9');
    }
}
