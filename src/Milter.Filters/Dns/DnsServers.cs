using System.Net;

namespace Milter.Filters.Dns;

/// <summary>The DNS servers to ask: <c>dns.servers</c> as written, or the system's <c>/etc/resolv.conf</c>.</summary>
public static class DnsServers
{
    public const int DefaultPort = 53;

    /// <summary>The system's resolver configuration.</summary>
    public const string ResolvConf = "/etc/resolv.conf";

    /// <summary>
    /// <c>IP</c> or <c>IP:PORT</c> (<c>[IPv6]:PORT</c>) entries; empty: the name servers of
    /// <paramref name="resolvConf"/>, or 127.0.0.1 when it names none (what the C library does).
    /// </summary>
    /// <exception cref="FormatException">An entry is not an address with an optional port.</exception>
    public static IReadOnlyList<IPEndPoint> Resolve(IReadOnlyList<string> configured, string resolvConf = ResolvConf)
    {
        ArgumentNullException.ThrowIfNull(configured);
        if (configured.Count > 0)
            return [.. configured.Select(Parse)];
        var fromFile = ReadResolvConf(resolvConf);
        return fromFile.Count > 0 ? fromFile : [new IPEndPoint(IPAddress.Loopback, DefaultPort)];
    }

    /// <summary>One <c>dns.servers</c> entry.</summary>
    /// <exception cref="FormatException">Not an address with an optional port.</exception>
    public static IPEndPoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!IPEndPoint.TryParse(text.Trim(), out var endpoint)
            || (endpoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && endpoint.Address.ScopeId != 0))
            throw new FormatException($"dns.servers: '{text}' is not a DNS server address (IP or IP:PORT, e.g. 127.0.0.53 or [::1]:53)");
        if (endpoint.Port == 0)
            endpoint.Port = DefaultPort;
        return endpoint;
    }

    /// <summary>The <c>nameserver</c> lines of a resolv.conf; a missing or unreadable file gives none.</summary>
    public static IReadOnlyList<IPEndPoint> ReadResolvConf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
        var servers = new List<IPEndPoint>();
        foreach (var line in lines)
        {
            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            // A scoped link-local server (fe80::1%eth0) keeps its scope; IPAddress parses it.
            if (fields.Length >= 2 && fields[0] == "nameserver" && IPAddress.TryParse(fields[1], out var address))
                servers.Add(new IPEndPoint(address, DefaultPort));
        }
        return servers;
    }
}
