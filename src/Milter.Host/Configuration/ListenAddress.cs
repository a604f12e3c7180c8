using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MilterHost.Configuration;

/// <summary>
/// Where the milter listens, in the forms sendmail's <c>S=</c> equate and libmilter take:
/// <c>unix:PATH</c> (also <c>local:PATH</c>), <c>inet:PORT@HOST</c>, <c>inet6:PORT@HOST</c>;
/// HOST may be omitted, which means loopback (127.0.0.1, ::1): the milter protocol has no
/// authentication, so every interface (<c>inet:PORT@0.0.0.0</c>, <c>inet6:PORT@[::]</c>) must be
/// asked for by name. An IPv6 host may be written in brackets.
/// </summary>
public sealed record ListenAddress
{
    // sockaddr_un.sun_path is 108 bytes on Linux, one of them the terminating NUL.
    private const int MaxUnixPathBytes = 107;

    private ListenAddress(ListenFamily family, string? path, string? host, int port)
    {
        Family = family;
        Path = path;
        Host = host;
        Port = port;
    }

    public ListenFamily Family { get; }

    /// <summary>The absolute socket path, for <see cref="ListenFamily.Unix"/>.</summary>
    public string? Path { get; }

    /// <summary>An address literal or host name for inet/inet6 (loopback when none was written); null for unix.</summary>
    public string? Host { get; }

    /// <summary>
    /// True when the address is known to be reachable from this host alone: a Unix socket, a loopback
    /// literal or <c>localhost</c>. Another host name counts as not local: what it resolves to is only known at bind.
    /// </summary>
    public bool IsLocal => Family == ListenFamily.Unix || Host == "localhost" || (IPAddress.TryParse(Host, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>True for <c>inet:PORT@0.0.0.0</c> and <c>inet6:PORT@[::]</c>: every interface.</summary>
    public bool IsWildcard => Family != ListenFamily.Unix && IPAddress.TryParse(Host, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any));

    /// <summary>The TCP port for inet/inet6; 0 for unix.</summary>
    public int Port { get; }

    public static ListenAddress Unix(string absolutePath) => new(ListenFamily.Unix, absolutePath, null, 0);

    /// <summary>Parses a listen address; a relative unix path is taken relative to <paramref name="baseDirectory"/>.</summary>
    public static bool TryParse(string text, string baseDirectory, out ListenAddress? address, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(baseDirectory);
        address = null;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon < 0 ? "" : text[..colon];
        var rest = colon < 0 ? "" : text[(colon + 1)..];
        switch (scheme)
        {
            case "unix" or "local":
                if (rest.Length == 0)
                {
                    error = $"'{text}' names no socket path";
                    return false;
                }
                var path = System.IO.Path.GetFullPath(rest, baseDirectory);
                if (Encoding.UTF8.GetByteCount(path) > MaxUnixPathBytes)
                {
                    error = $"socket path '{path}' is longer than the {MaxUnixPathBytes} bytes a Unix socket address holds";
                    return false;
                }
                address = Unix(path);
                error = null;
                return true;
            case "inet" or "inet6":
                return TryParseInet(text, scheme == "inet" ? ListenFamily.Inet : ListenFamily.Inet6, rest, out address, out error);
            default:
                error = $"'{text}' is not a listen address; write unix:PATH, inet:PORT@HOST or inet6:PORT@HOST";
                return false;
        }
    }

    /// <exception cref="FormatException">Not a listen address.</exception>
    public static ListenAddress Parse(string text, string? baseDirectory = null) =>
        TryParse(text, baseDirectory ?? Directory.GetCurrentDirectory(), out var address, out var error)
            ? address!
            : throw new FormatException(error);

    /// <summary>
    /// The endpoint to bind: a <see cref="UnixDomainSocketEndPoint"/>, an <see cref="IPEndPoint"/>,
    /// or a <see cref="DnsEndPoint"/> (restricted to the family) when the host is a name.
    /// </summary>
    public EndPoint ToEndPoint()
    {
        if (Family == ListenFamily.Unix)
            return new UnixDomainSocketEndPoint(Path!);
        var family = Family == ListenFamily.Inet ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        return IPAddress.TryParse(Host, out var ip) ? new IPEndPoint(ip, Port) : new DnsEndPoint(Host!, Port, family);
    }

    /// <summary>The canonical spelling: <c>unix:/abs/path</c>, <c>inet:8891@127.0.0.1</c>, <c>inet6:8891@[::1]</c>.</summary>
    public override string ToString() => Family switch
    {
        ListenFamily.Unix => "unix:" + Path,
        _ => (Family == ListenFamily.Inet ? "inet:" : "inet6:") + Port.ToString(CultureInfo.InvariantCulture)
            + "@" + (Family == ListenFamily.Inet6 && Host!.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host),
    };

    private static bool TryParseInet(string text, ListenFamily family, string rest, out ListenAddress? address, out string? error)
    {
        address = null;
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        var portText = at < 0 ? rest : rest[..at];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            error = $"'{text}' has no valid port; write {(family == ListenFamily.Inet ? "inet:PORT@HOST, e.g. inet:8891@127.0.0.1" : "inet6:PORT@HOST, e.g. inet6:8891@[::1]")} (port 1-65535)";
            return false;
        }
        // No host: loopback, never every interface (see the type's summary).
        var host = family == ListenFamily.Inet ? IPAddress.Loopback.ToString() : IPAddress.IPv6Loopback.ToString();
        if (at >= 0)
        {
            host = rest[(at + 1)..];
            if (host.StartsWith('[') && host.EndsWith(']'))
                host = host[1..^1];
            if (NetworkSyntax.TryParseAddress(host, out var ip))
            {
                if ((ip.AddressFamily == AddressFamily.InterNetwork) != (family == ListenFamily.Inet))
                {
                    error = $"'{text}': {host} is not an {(family == ListenFamily.Inet ? "IPv4" : "IPv6")} address";
                    return false;
                }
                host = ip.ToString();
            }
            else if (!HostNames.IsValid(host))
            {
                error = $"'{text}': '{host}' is neither an IP address nor a host name";
                return false;
            }
        }
        address = new ListenAddress(family, null, host, port);
        error = null;
        return true;
    }
}
