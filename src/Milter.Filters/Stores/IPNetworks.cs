using System.Net;
using System.Net.Sockets;

namespace Milter.Filters.Stores;

/// <summary>Small address arithmetic the stores and the greylist share.</summary>
internal static class IPNetworks
{
    /// <summary>IPv4-mapped IPv6 (<c>::ffff:192.0.2.1</c>) as plain IPv4, so a dual-stack listener keys like an IPv4 one.</summary>
    public static IPAddress Canonical(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>The network of <paramref name="prefixLength"/> bits containing <paramref name="address"/> (clamped to the family's width).</summary>
    public static IPNetwork Containing(IPAddress address, int prefixLength)
    {
        address = Canonical(address);
        var bytes = address.GetAddressBytes();
        var bits = bytes.Length * 8;
        prefixLength = Math.Clamp(prefixLength, 0, bits);
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefixLength - i * 8, 0, 8);
            bytes[i] &= (byte)(0xff << (8 - keep));
        }
        return new IPNetwork(new IPAddress(bytes), prefixLength);
    }

    /// <summary>A network as stored and compared: canonical family, host bits cleared.</summary>
    public static IPNetwork Normalize(IPNetwork network)
    {
        var address = network.BaseAddress;
        var prefix = network.PrefixLength;
        if (address.IsIPv4MappedToIPv6)
        {
            // ::ffff:0:0/96 and longer map onto IPv4 prefixes; shorter ones cannot be IPv4 at all.
            prefix = Math.Max(0, prefix - 96);
            address = address.MapToIPv4();
        }
        return Containing(address, prefix);
    }

    /// <summary>The first of <paramref name="networks"/> that contains <paramref name="address"/> (IPv4-mapped or not); null when none does.</summary>
    public static IPNetwork? FirstContaining(IReadOnlyList<IPNetwork> networks, IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(networks);
        var canonical = Canonical(address);
        // By index: asked for every message, and a foreach over the interface would allocate an enumerator.
        for (var i = 0; i < networks.Count; i++)
        {
            if (networks[i].Contains(canonical) || networks[i].Contains(address))
                return networks[i];
        }
        return null;
    }

    /// <summary>True when one network contains the other (the admin filter "client CIDR" matches both ways).</summary>
    public static bool Overlaps(IPNetwork a, IPNetwork b) =>
        a.BaseAddress.AddressFamily == b.BaseAddress.AddressFamily
        && (a.PrefixLength <= b.PrefixLength ? a.Contains(b.BaseAddress) : b.Contains(a.BaseAddress));

    /// <summary>Parses <c>192.0.2.1</c> (a host route) or <c>192.0.2.0/24</c>; host bits must be clear in the CIDR form.</summary>
    public static bool TryParse(string text, out IPNetwork network)
    {
        network = default;
        text = text.Trim();
        if (!text.Contains('/'))
        {
            if (!IPAddress.TryParse(text, out var address))
                return false;
            address = Canonical(address);
            network = new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
        if (!IPNetwork.TryParse(text, out var parsed))
            return false;
        network = Normalize(parsed);
        return true;
    }
}
