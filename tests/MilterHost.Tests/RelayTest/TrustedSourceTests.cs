using System.Net;
using MilterHost.Tools.RelayTest;

namespace MilterHost.Tests.RelayTest;

/// <summary>relay-test's warning when it speaks from an address the target trusts anyway.</summary>
public sealed class TrustedSourceTests
{
    private static readonly IPAddress[] Own = [IPAddress.Loopback, IPAddress.IPv6Loopback, IPAddress.Parse("192.0.2.10"), IPAddress.Parse("2001:db8::10")];

    [Theory]
    [InlineData("127.0.0.5", "198.51.100.25")]
    [InlineData("::1", "2001:db8::99")]
    [InlineData("::ffff:127.0.0.1", "::ffff:127.0.0.1")]
    public void A_loopback_source_is_trusted_whatever_the_target(string source, string server)
    {
        var warning = TrustedSource.Warning(IPAddress.Parse(source), IPAddress.Parse(server), Own);

        Assert.NotNull(warning);
        Assert.Contains("is a loopback address, which the server trusts", warning, StringComparison.Ordinal);
        Assert.EndsWith("run relay-test from another machine (copy the milterhost binary there)", warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("192.0.2.10", "192.0.2.10")]
    [InlineData("2001:db8::10", "2001:db8::10")]
    [InlineData("::ffff:192.0.2.10", "192.0.2.10")]
    public void Own_address_probing_this_machine_is_trusted(string source, string server)
    {
        var warning = TrustedSource.Warning(IPAddress.Parse(source), IPAddress.Parse(server), Own);

        Assert.Equal(
            "warning: the probe came from " + IPAddress.Parse(source).MapToIPv4IfMapped() + " is one of the server's own addresses, which sendmail trusts "
            + "(it relays for its own host), so \"open relay\" below proves nothing; run relay-test from another machine (copy the milterhost binary there)",
            warning);
    }

    [Theory]
    [InlineData("192.0.2.10", "198.51.100.25")]
    [InlineData("2001:db8::10", "2001:db8:1::25")]
    public void Own_address_probing_another_machine_is_an_outside_client(string source, string server) =>
        Assert.Null(TrustedSource.Warning(IPAddress.Parse(source), IPAddress.Parse(server), Own));

    [Fact]
    public void This_machines_addresses_include_loopback() =>
        Assert.Contains(IPAddress.Loopback, TrustedSource.OwnAddresses());
}

internal static class MappedAddress
{
    public static IPAddress MapToIPv4IfMapped(this IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
