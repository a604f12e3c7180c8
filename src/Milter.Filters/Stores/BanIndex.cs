using System.Net;

namespace Milter.Filters.Stores;

/// <summary>The active bans in memory: single addresses by hash, networks longest prefix first.</summary>
internal sealed class BanIndex
{
    private readonly Dictionary<IPAddress, DynamicBan> _hosts = [];
    private readonly List<DynamicBan> _networks = [];

    public BanIndex(IEnumerable<DynamicBan> bans)
    {
        foreach (var ban in bans)
        {
            var bits = ban.Network.BaseAddress.GetAddressBytes().Length * 8;
            if (ban.Network.PrefixLength == bits)
                _hosts[ban.Network.BaseAddress] = ban;
            else
                _networks.Add(ban);
        }
        _networks.Sort((a, b) => b.Network.PrefixLength.CompareTo(a.Network.PrefixLength));
    }

    public DynamicBan? Find(IPAddress address, DateTimeOffset now)
    {
        address = IPNetworks.Canonical(address);
        if (_hosts.TryGetValue(address, out var host) && host.Expires > now)
            return host;
        foreach (var ban in _networks)
        {
            if (ban.Expires > now && ban.Network.Contains(address))
                return ban;
        }
        return null;
    }
}
