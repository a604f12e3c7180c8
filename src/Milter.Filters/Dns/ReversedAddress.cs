using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Milter.Filters.Dns;

/// <summary>
/// An address written the way reverse DNS and DNS lists look it up: IPv4 octets in reverse order
/// (<c>5.2.0.127</c>), IPv6 as 32 reversed nibbles (<c>1.0.0.0...8.b.d.0.1.0.0.2</c>, RFC 3596 and RFC 5782).
/// </summary>
public static class ReversedAddress
{
    /// <summary>The reversed labels, without a zone.</summary>
    public static string Labels(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        var bytes = address.GetAddressBytes();
        var sb = new StringBuilder(bytes.Length * 4);
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                sb.Append(bytes[i].ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('.');
                continue;
            }
            sb.Append(Nibble(bytes[i] & 0xf)).Append('.').Append(Nibble(bytes[i] >> 4)).Append('.');
        }
        return sb.ToString(0, sb.Length - 1);
    }

    /// <summary>The PTR name: <c>5.2.0.127.in-addr.arpa</c> or <c>...ip6.arpa</c>.</summary>
    public static string PointerName(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var v4 = address.AddressFamily == AddressFamily.InterNetwork || address.IsIPv4MappedToIPv6;
        return Labels(address) + (v4 ? ".in-addr.arpa" : ".ip6.arpa");
    }

    /// <summary>The name to look up in a DNS list: <c>5.2.0.127.bl.example</c>.</summary>
    public static string InZone(IPAddress address, string zone)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(zone);
        return Labels(address) + "." + zone.Trim().TrimEnd('.');
    }

    private static char Nibble(int value) => (char)(value < 10 ? '0' + value : 'a' + value - 10);
}
