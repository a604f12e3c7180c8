using System.Net;
using Milter.Filters.Configuration;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The client part of a triplet, as a string key: <c>net:203.0.113.0/24</c> for the client's
/// subnet, or <c>spf:example.org</c> for a sender domain whose SPF record authorised the client
/// (issue 10: a pool of outbound servers then counts as one client).
/// </summary>
public static class ClientKey
{
    private const string NetPrefix = "net:";
    private const string SpfPrefix = "spf:";

    /// <summary>The subnet key of <paramref name="address"/>: /24 and /64 by default; IPv4-mapped IPv6 counts as IPv4.</summary>
    public static string ForAddress(IPAddress address, SubnetOptions subnet)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(subnet);
        var canonical = IPNetworks.Canonical(address);
        var prefix = canonical.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? subnet.Ipv4 : subnet.Ipv6;
        return NetPrefix + IPNetworks.Containing(canonical, prefix);
    }

    /// <summary>
    /// The key a client is greylisted (and its bypass strikes counted) under: the sender domain's
    /// pool when <c>spf_pools</c> is on and <paramref name="spfPoolDomain"/> is one, else its subnet.
    /// </summary>
    public static string For(IPAddress address, string? spfPoolDomain, GreylistOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.SpfPools && spfPoolDomain is not null ? ForSpfDomain(spfPoolDomain) : ForAddress(address, options.Subnet);
    }

    /// <summary>The key of an SPF-validated sender domain (lowercased, trailing dot dropped).</summary>
    public static string ForSpfDomain(string domain)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(domain);
        return SpfPrefix + domain.Trim().TrimEnd('.').ToLowerInvariant();
    }

    /// <summary>The network of a <c>net:</c> key; false for SPF keys and anything else.</summary>
    public static bool TryGetNetwork(string key, out IPNetwork network)
    {
        network = default;
        return key.StartsWith(NetPrefix, StringComparison.Ordinal) && IPNetwork.TryParse(key.AsSpan(NetPrefix.Length), out network);
    }
}
