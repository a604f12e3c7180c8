namespace Milter.Filters.Relay;

/// <summary>
/// The <c>Received:</c> line sendmail's submission program writes at the top of every message it
/// takes from a local user: <c>(from alice@localhost) by host (8.17.1.9/8.17.1.9/Submit) id ...</c>,
/// the user being the name of its real uid. Read only on a connection the submission account owns,
/// where that program wrote it; anything else is hostile and never read. Parsed strictly: a value
/// that does not begin exactly so names nobody.
/// </summary>
public static class SubmissionReceived
{
    private const string Opening = "(from ";
    private const string Closing = "@localhost)";

    // Longer than any account name useradd or NSS hands out on Linux (LOGIN_NAME_MAX is 256 with the NUL).
    private const int MaxUserLength = 255;

    /// <summary>The header's name.</summary>
    public const string HeaderName = "Received";

    /// <summary>
    /// The user of <c>(from USER@localhost)</c> at the very start of <paramref name="value"/> (after
    /// folding white space), followed by white space or the end; null otherwise. A user name is
    /// ASCII letters, digits, <c>. _ -</c> and a trailing <c>$</c> (Samba machine accounts), not starting with <c>-</c>.
    /// </summary>
    public static string? User(string? value)
    {
        if (value is null)
            return null;
        var text = value.AsSpan().TrimStart(" \t\r\n");
        if (!text.StartsWith(Opening, StringComparison.Ordinal))
            return null;
        text = text[Opening.Length..];
        var at = text.IndexOf(Closing, StringComparison.Ordinal);
        if (at is <= 0 or > MaxUserLength)
            return null;
        var user = text[..at];
        var rest = text[(at + Closing.Length)..];
        if (!IsUserName(user) || (rest.Length > 0 && rest[0] is not (' ' or '\t' or '\r' or '\n')))
            return null;
        return user.ToString();
    }

    private static bool IsUserName(ReadOnlySpan<char> name)
    {
        if (name[0] == '-')
            return false;
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' || (c == '$' && i == name.Length - 1)))
                return false;
        }
        return true;
    }
}
