using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MilterHost.Configuration;

/// <summary>Client networks as written in the configuration: <c>192.0.2.0/24</c>, <c>2001:db8::/32</c>, or a bare address.</summary>
public static class NetworkSyntax
{
    /// <summary>
    /// Parses a CIDR network. A bare address is a network of one (/32 or /128). Host bits after the
    /// prefix are accepted and cleared (<c>192.0.2.7/24</c> is <c>192.0.2.0/24</c>): the intent is
    /// plain, and refusing it would only make a postmaster do the arithmetic by hand.
    /// </summary>
    public static bool TryParse(string text, out IPNetwork network, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        network = default;
        error = null;
        var s = text.Trim();
        var slash = s.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? s : s[..slash];
        if (!TryParseAddress(addressText, out var address))
        {
            error = $"'{text}' is not an IP address or CIDR network (e.g. 192.0.2.0/24, 2001:db8::/32)";
            return false;
        }
        var maxPrefix = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = maxPrefix;
        if (slash >= 0 && (!int.TryParse(s.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > maxPrefix))
        {
            error = $"'{text}' has a bad prefix length; it must be 0-{maxPrefix} for {(maxPrefix == 32 ? "IPv4" : "IPv6")}";
            return false;
        }
        network = new IPNetwork(Mask(address, prefix), prefix);
        return true;
    }

    /// <summary>
    /// An address literal as people write them: IPAddress.TryParse also takes "1", "0x7f000001"
    /// and scope ids, none of which belongs in a config file.
    /// </summary>
    public static bool TryParseAddress(string text, out IPAddress address)
    {
        if (IPAddress.TryParse(text, out address!)
            && (address.AddressFamily == AddressFamily.InterNetworkV6 ? text.Contains(':', StringComparison.Ordinal) : text.Count(c => c == '.') == 3)
            && !text.Contains('%', StringComparison.Ordinal))
            return true;
        address = IPAddress.None;
        return false;
    }

    /// <summary>
    /// <c>HOST:PORT</c>, <c>[IPv6]:PORT</c>, or (when <paramref name="portOptional"/>) a bare address.
    /// HOST is an address literal, or a host name when <paramref name="allowNames"/>.
    /// </summary>
    public static bool TryParseHostPort(string text, bool portOptional, bool allowNames, out string host, out int? port)
    {
        host = "";
        port = null;
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
                return false;
            host = text[1..close];
            if (!TryParseAddress(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
                return false;
            portText = text[(close + 1)..];
            if (portText.Length > 0 && portText[0] != ':')
                return false;
            portText = portText.TrimStart(':');
        }
        else if (text.Count(c => c == ':') > 1)
        {
            // A bare IPv6 address: no room for a port without brackets.
            host = text;
            return portOptional && TryParseAddress(text, out _);
        }
        else
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = colon < 0 ? text : text[..colon];
            portText = colon < 0 ? "" : text[(colon + 1)..];
            if (!TryParseAddress(host, out _) && !(allowNames && HostNames.IsValid(host)))
                return false;
        }
        if (portText.Length == 0)
            return portOptional;
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            return false;
        port = p;
        return true;
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var bit = prefix; bit < bytes.Length * 8; bit++)
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        return new IPAddress(bytes);
    }
}
