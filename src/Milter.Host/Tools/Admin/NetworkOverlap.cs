using System.Net;

namespace MilterHost.Tools.Admin;

internal static class NetworkOverlap
{
    /// <summary>True when one network contains the other.</summary>
    public static bool Overlaps(IPNetwork a, IPNetwork b) =>
        a.BaseAddress.AddressFamily == b.BaseAddress.AddressFamily
        && (a.PrefixLength <= b.PrefixLength ? a.Contains(b.BaseAddress) : b.Contains(a.BaseAddress));
}
