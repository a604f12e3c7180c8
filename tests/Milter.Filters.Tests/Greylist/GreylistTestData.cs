using System.Net;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Greylist;

namespace Milter.Filters.Tests.Greylist;

/// <summary>Options, clock and triplets the greylist tests share.</summary>
internal static class GreylistTestData
{
    /// <summary>A whole second, as the stores keep time.</summary>
    public static readonly DateTimeOffset Start = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    /// <summary>docs/design.md's defaults: delay 2m, retry window 5h, pass lifetime 36d, auto-whitelist after 5, bypass ban after 3 within 1h for 7d.</summary>
    public static readonly GreylistOptions Options = new();

    public static FakeTimeProvider Clock() => new(Start);

    public static readonly IPAddress Client = IPAddress.Parse("203.0.113.5");

    public static string ClientKeyOf(IPAddress address) => ClientKey.ForAddress(address, Options.Subnet);

    public static Triplet Mail(string sender, string recipient, IPAddress? client = null) =>
        Triplet.Create(ClientKeyOf(client ?? Client), sender, recipient);
}
