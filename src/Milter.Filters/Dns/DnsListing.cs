using System.Net;

namespace Milter.Filters.Dns;

/// <summary>The client is listed in <paramref name="List"/> with the return code <paramref name="Code"/>.</summary>
public sealed record DnsListing(DnsList List, IPAddress Code)
{
    public override string ToString() => $"{List.Zone} {Code} ({List.ActionName}, {List.Rule})";
}
