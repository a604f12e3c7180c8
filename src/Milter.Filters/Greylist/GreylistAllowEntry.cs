using System.Net;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>What an admin allow entry (<c>milterhost greylist allow</c>) names.</summary>
public enum GreylistAllowKind
{
    /// <summary>A client network (CIDR); <see cref="GreylistAllowEntry.Value"/> is its canonical text.</summary>
    Network = 0,
    /// <summary>A sender domain, matched exactly (lowercased).</summary>
    SenderDomain = 1,
}

/// <summary>An admin whitelist entry: mail from this network or sender domain skips greylisting.</summary>
/// <param name="Expires">Null: until removed.</param>
public sealed record GreylistAllowEntry(GreylistAllowKind Kind, string Value, string Reason, DateTimeOffset Created, DateTimeOffset? Expires)
{
    public static GreylistAllowEntry ForNetwork(IPNetwork network, string reason, DateTimeOffset created, DateTimeOffset? expires = null) =>
        new(GreylistAllowKind.Network, IPNetworks.Normalize(network).ToString(), reason, created, expires);

    public static GreylistAllowEntry ForSenderDomain(string domain, string reason, DateTimeOffset created, DateTimeOffset? expires = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(domain);
        return new(GreylistAllowKind.SenderDomain, domain.Trim().TrimStart('@').TrimEnd('.').ToLowerInvariant(), reason, created, expires);
    }
}
