using System.Net;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>The admin allow list in memory.</summary>
internal sealed class AllowIndex
{
    private readonly List<(IPNetwork Network, long? Expires)> _networks = [];
    private readonly Dictionary<string, long?> _domains = new(StringComparer.Ordinal);

    public AllowIndex(IEnumerable<GreylistAllowEntry> entries)
    {
        foreach (var entry in entries)
        {
            var expires = entry.Expires?.ToUnixTimeSeconds();
            if (entry.Kind == GreylistAllowKind.SenderDomain)
                _domains[entry.Value] = expires;
            else if (IPNetwork.TryParse(entry.Value, out var network))
                _networks.Add((network, expires));
        }
    }

    public bool Matches(IPAddress? client, string senderDomain, long now)
    {
        if (senderDomain.Length > 0 && _domains.TryGetValue(senderDomain, out var until) && Alive(until, now))
            return true;
        if (client is null || _networks.Count == 0)
            return false;
        client = IPNetworks.Canonical(client);
        foreach (var (network, expires) in _networks)
        {
            if (Alive(expires, now) && network.Contains(client))
                return true;
        }
        return false;
    }

    private static bool Alive(long? expires, long now) => expires is null || expires > now;
}
