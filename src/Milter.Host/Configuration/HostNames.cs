namespace MilterHost.Configuration;

/// <summary>DNS name syntax (RFC 1123 labels) for hosts, local domains and DNS list zones.</summary>
internal static class HostNames
{
    /// <summary>Letters, digits and inner hyphens in dot-separated labels; a trailing dot is allowed; not all digits.</summary>
    public static bool IsValid(string name)
    {
        var n = name.EndsWith('.') ? name[..^1] : name;
        return n.Length is > 0 and <= 253
            && n.Split('.').All(label => label.Length is > 0 and <= 63
                && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_')
                && label[0] != '-' && label[^1] != '-')
            && !n.All(c => char.IsAsciiDigit(c) || c == '.');
    }
}
