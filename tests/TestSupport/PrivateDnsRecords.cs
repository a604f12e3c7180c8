using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Milter.TestSupport;

/// <summary>
/// The records a <see cref="PrivateDns"/> serves, written as dnsmasq options. Every name under a
/// <see cref="LocalZones"/> zone that has no record gets NXDOMAIN (not REFUSED), like a real
/// authoritative server.
/// </summary>
/// <example>
/// <code>
/// var records = new PrivateDnsRecords()
///     .Txt("pool.example", "v=spf1 ip4:127.0.2.0/24 -all")
///     .Ptr("127.0.2.5", "mail5.pool.example")
///     .A("mail5.pool.example", "127.0.2.5")
///     .Listed("bl.example", "127.0.5.5", "127.0.0.2");
/// </code>
/// </example>
public sealed class PrivateDnsRecords
{
    private readonly List<string> _options = [];

    /// <summary>Zones answered locally (NXDOMAIN for unknown names); by default <c>example</c> and both reverse trees.</summary>
    public IReadOnlyList<string> LocalZones { get; init; } = ["example", "in-addr.arpa", "ip6.arpa"];

    /// <summary>The TTL of every answer, in seconds; 0 (the default) lets no resolver cache them.</summary>
    public int Ttl { get; init; }

    /// <summary>The dnsmasq options for the records, in the order added.</summary>
    public IReadOnlyList<string> Options => [.. _options];

    /// <summary>A TXT record. From the command line dnsmasq keeps quotes as text and splits at commas, so neither may appear.</summary>
    public PrivateDnsRecords Txt(string name, string text)
    {
        if (text.Contains('"', StringComparison.Ordinal) || text.Contains(',', StringComparison.Ordinal))
            throw new ArgumentException("dnsmasq takes no quote or comma in TXT text given on its command line", nameof(text));
        return Add($"--txt-record={Name(name)},{text}");
    }

    /// <summary>A PTR record for <paramref name="address"/> (IPv4 or IPv6) pointing to <paramref name="name"/>.</summary>
    public PrivateDnsRecords Ptr(string address, string name) => Add($"--ptr-record={PointerName(IPAddress.Parse(address))},{Name(name)}");

    /// <summary>
    /// An A or AAAA record (by the address family). dnsmasq answers it for every name below
    /// <paramref name="name"/> too, and NXDOMAIN for the other family.
    /// </summary>
    public PrivateDnsRecords A(string name, string address) => Add($"--address=/{Name(name)}/{IPAddress.Parse(address)}");

    /// <summary>An MX record.</summary>
    public PrivateDnsRecords Mx(string name, string exchange, int preference = 10) =>
        Add(string.Create(CultureInfo.InvariantCulture, $"--mx-host={Name(name)},{Name(exchange)},{preference}"));

    /// <summary>A host: its A or AAAA record and the matching PTR record, as dnsmasq's <c>--host-record</c>.</summary>
    public PrivateDnsRecords Host(string name, string address) => Add($"--host-record={Name(name)},{IPAddress.Parse(address)}");

    /// <summary>A CNAME; dnsmasq serves it only for a target given with <see cref="Host"/>.</summary>
    public PrivateDnsRecords Cname(string alias, string target) => Add($"--cname={Name(alias)},{Name(target)}");

    /// <summary>Lists <paramref name="client"/> in the DNS list <paramref name="zone"/> with return code <paramref name="code"/>.</summary>
    public PrivateDnsRecords Listed(string zone, string client, string code = "127.0.0.2") =>
        A(Reversed(IPAddress.Parse(client)) + "." + Name(zone), code);

    private PrivateDnsRecords Add(string option)
    {
        _options.Add(option);
        return this;
    }

    private static string Name(string name)
    {
        var n = name.Trim().TrimEnd('.');
        if (n.Length == 0 || n.Any(c => c is ',' or '/' or '"' || char.IsWhiteSpace(c)))
            throw new ArgumentException($"'{name}' is not a DNS name dnsmasq can take", nameof(name));
        return n;
    }

    private static string PointerName(IPAddress address) =>
        Reversed(address) + (address.AddressFamily == AddressFamily.InterNetwork ? ".in-addr.arpa" : ".ip6.arpa");

    private static string Reversed(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return address.AddressFamily == AddressFamily.InterNetwork
            ? string.Join('.', bytes.Reverse().Select(b => b.ToString(CultureInfo.InvariantCulture)))
            : string.Join('.', bytes.Reverse().SelectMany(b => new[] { b & 0xf, b >> 4 }).Select(n => n.ToString("x", CultureInfo.InvariantCulture)));
    }
}
