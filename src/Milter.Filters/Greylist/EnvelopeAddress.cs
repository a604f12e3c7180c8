using System.Text.RegularExpressions;

namespace Milter.Filters.Greylist;

/// <summary>
/// Normalises envelope addresses for the triplet key, so that one sender retrying one message
/// keeps one key. Decisions (postgrey's sender substitutions, extended):
/// <list type="bullet">
/// <item>Lowercased throughout; the null sender <c>&lt;&gt;</c> is the empty string.</item>
/// <item>BATV tags are dropped: <c>prvs=TAG=user@dom</c>, <c>msprvs1=TAG=user@dom</c>, <c>btv1==TAG==user@dom</c> become <c>user@dom</c>;
/// the tag changes daily and per message.</item>
/// <item>SRS addresses are replaced by the original sender they encode: <c>SRS0=HASH=TT=orig.example=user@forwarder</c>
/// becomes <c>user@orig.example</c> (SRS1 likewise, through the first forwarder); hash and timestamp change per day. The
/// client part stays the forwarder's network, so the key is (forwarder, original sender, recipient).</item>
/// <item>Sender only, as postgrey does for VERP: a <c>+extension</c> is cut and every standalone number in the local part
/// becomes <c>#</c> (<c>bounce-1234@list</c> → <c>bounce-#@list</c>), so each list mail is not a new triplet.</item>
/// </list>
/// Recipients are only lowercased: their <c>+detail</c> is the recipient's choice.
/// </summary>
internal static partial class EnvelopeAddress
{
    // Nested wrappings (SRS around BATV, as forwarders produce) are peeled at most this often.
    private const int MaxUnwrap = 4;

    public static string NormalizeSender(string? address)
    {
        var s = Strip(address);
        if (s.Length == 0)
            return "";
        for (var i = 0; i < MaxUnwrap; i++)
        {
            var unwrapped = Unwrap(s);
            if (ReferenceEquals(unwrapped, s))
                break;
            s = unwrapped;
        }
        var at = s.LastIndexOf('@');
        if (at <= 0)
            return s;
        // Most senders have neither: the address is its own key, no new string.
        if (s.AsSpan(1, at - 1).IndexOf('+') < 0 && !Numbers().IsMatch(s.AsSpan(0, at)))
            return s;
        var local = s[..at];
        var plus = local.IndexOf('+');
        if (plus > 0)
            local = local[..plus];
        local = Numbers().Replace(local, "#");
        return local + s[at..];
    }

    public static string NormalizeRecipient(string address) => Strip(address);

    /// <summary>The domain of a normalised address, or "" (null sender, bare local part).</summary>
    public static string DomainOf(string normalized)
    {
        var at = normalized.LastIndexOf('@');
        return at < 0 ? "" : normalized[(at + 1)..];
    }

    private static string Strip(string? address)
    {
        if (address is null)
            return "";
        return Protocol.Commands.AngleBrackets.Strip(address).Trim().ToLowerInvariant();
    }

    // Returns the same instance when nothing was peeled.
    private static string Unwrap(string s)
    {
        var at = s.LastIndexOf('@');
        if (at <= 0)
            return s;
        var local = s[..at];
        var domain = s[(at + 1)..];

        if (TryAfterTag(local, "prvs=", "=", out var user) || TryAfterTag(local, "msprvs1=", "=", out user)
            || TryAfterTag(local, "btv1==", "==", out user))
            return user + "@" + domain;

        if (local.Length > 5 && local.StartsWith("srs0", StringComparison.Ordinal) && IsSrsSeparator(local[4])
            && TrySrs0(local[5..], out var original))
            return original;

        if (local.Length > 5 && local.StartsWith("srs1", StringComparison.Ordinal) && IsSrsSeparator(local[4]))
        {
            // SRS1=HASH=first.forwarder==HASH=TT=orig.domain=user: past the first forwarder the rest is
            // an SRS0 body, introduced by its own separator character.
            var parts = local[5..].Split('=', 3);
            if (parts.Length == 3 && parts[2].Length > 1 && IsSrsSeparator(parts[2][0]) && TrySrs0(parts[2][1..], out original))
                return original;
        }
        return s;
    }

    private static bool TryAfterTag(string local, string prefix, string separator, out string user)
    {
        user = "";
        if (!local.StartsWith(prefix, StringComparison.Ordinal))
            return false;
        var end = local.IndexOf(separator, prefix.Length, StringComparison.Ordinal);
        if (end <= prefix.Length || end + separator.Length >= local.Length)
            return false;
        user = local[(end + separator.Length)..];
        return true;
    }

    // HASH=TT=orig.domain=user (user may itself contain '=').
    private static bool TrySrs0(string body, out string original)
    {
        original = "";
        var parts = body.Split('=', 4);
        if (parts.Length != 4 || parts[2].Length == 0 || parts[3].Length == 0)
            return false;
        original = parts[3] + "@" + parts[2];
        return true;
    }

    private static bool IsSrsSeparator(char c) => c is '=' or '+' or '-';

    [GeneratedRegex(@"\b\d+\b", RegexOptions.CultureInvariant)]
    private static partial Regex Numbers();
}
