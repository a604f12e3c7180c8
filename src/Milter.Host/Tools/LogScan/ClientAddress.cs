using System.Net;
using System.Text.RegularExpressions;

namespace MilterHost.Tools.LogScan;

/// <summary>A client as sendmail names it: <c>name [1.2.3.4]</c>, <c>[IPv6:2001:db8::1]</c>, maybe forged.</summary>
internal readonly record struct ClientAddress(IPAddress Address, string? Name, bool MayBeForged)
{
    /// <summary>
    /// Reads an address as written between sendmail's brackets: <c>1.2.3.4</c>, <c>IPv6:2001:db8:0:0:0:0:0:1</c>.
    /// The result is normalised so one client counts once however it was spelled: IPv6 compressed
    /// and lower case, IPv4-mapped IPv6 turned back into IPv4.
    /// </summary>
    public static IPAddress? ParseAddress(ReadOnlySpan<char> text)
    {
        text = text.Trim();
        if (text.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase))
            text = text[5..];
        if (text.IsEmpty || !IPAddress.TryParse(text, out var address))
            return null;
        if (address.IsIPv4MappedToIPv6)
            return address.MapToIPv4();
        // A zone id (fe80::1%eth0) names our interface, not the client.
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && address.ScopeId != 0)
            address.ScopeId = 0;
        return address;
    }

    /// <summary>From a match of one of the client patterns: groups <c>name</c>, <c>addr</c> and <c>forged</c>.</summary>
    public static ClientAddress? FromMatch(Match match)
    {
        var address = ParseAddress(match.Groups["addr"].ValueSpan);
        if (address is null)
            return null;
        var name = match.Groups["name"].Success ? match.Groups["name"].Value : null;
        // With ident lookups on, sendmail writes user@host; the user part is whatever the peer claims.
        var at = name?.LastIndexOf('@') ?? -1;
        if (at >= 0)
            name = name![(at + 1)..];
        if (string.IsNullOrEmpty(name) || name.Equals("unknown", StringComparison.OrdinalIgnoreCase))
            name = null;
        return new ClientAddress(address, name, match.Groups["forged"].Success);
    }
}
