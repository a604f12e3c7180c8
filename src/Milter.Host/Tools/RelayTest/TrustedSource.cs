using System.Net;
using System.Net.NetworkInformation;

namespace MilterHost.Tools.RelayTest;

/// <summary>
/// Whether the address relay-test spoke from is one the target trusts anyway, so that an
/// "open relay" verdict proves nothing: a loopback address (the shipped milterhost config and
/// sendmail relay for it), or one of this machine's own addresses when the target is this machine
/// (sendmail relays for its own host).
/// </summary>
public static class TrustedSource
{
    /// <summary>The warning to print, or null when <paramref name="source"/> looks like an outside client.</summary>
    public static string? Warning(IPAddress source, IPAddress server, IReadOnlyCollection<IPAddress> ownAddresses)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(ownAddresses);
        source = Plain(source);
        server = Plain(server);
        string why;
        if (IPAddress.IsLoopback(source))
            why = $"{source} is a loopback address, which the server trusts (milterhost's default relay.allow_clients and sendmail let loopback relay)";
        else if (ownAddresses.Select(Plain).Contains(server) && ownAddresses.Select(Plain).Contains(source))
            why = $"{source} is one of the server's own addresses, which sendmail trusts (it relays for its own host)";
        else
            return null;
        return $"warning: the probe came from {why}, so \"open relay\" below proves nothing; "
            + "run relay-test from another machine (copy the milterhost binary there)";
    }

    /// <summary>The addresses of this machine's interfaces; empty when they cannot be listed.</summary>
    public static IReadOnlyCollection<IPAddress> OwnAddresses()
    {
        try
        {
            return [.. NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)];
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }

    private static IPAddress Plain(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
