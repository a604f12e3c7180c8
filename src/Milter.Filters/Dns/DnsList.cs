using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Milter.Filters.Configuration;

namespace Milter.Filters.Dns;

/// <summary>
/// One <c>dns_lists</c> entry, ready to query: the zone, the return codes that count and what a
/// listing does. An empty <c>codes</c> counts 127.0.0.2 to 127.255.255.251: never 127.0.0.1 (RFC
/// 5782 2.1), nor the 127.255.255.252-255 that lists such as Spamhaus answer when they refuse the
/// query (a public resolver, a quota spent), which counted as listings would refuse every client;
/// an answer outside 127.0.0.0/8 is a resolver rewriting NXDOMAIN, not a listing.
/// </summary>
public sealed class DnsList
{
    private readonly (uint Low, uint High)[] _codes;

    // 127.0.0.2 and 127.255.255.251: the answers that count when codes: names none.
    private const uint DefaultLow = 0x7f000002, DefaultHigh = 0x7ffffffb;

    // 127.255.255.252-255: the list refused the query rather than answer it.
    private const uint RefusalLow = 0x7ffffffc;

    /// <exception cref="FormatException">A code is not an IPv4 address or a low-high range of them.</exception>
    public DnsList(DnsListOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Zone);
        Zone = options.Zone.Trim().TrimEnd('.').ToLowerInvariant();
        Action = options.Action;
        Id = options.Id;
        _codes = options.Codes.Count == 0 ? [(DefaultLow, DefaultHigh)] : [.. options.Codes.Select(ParseRange)];
    }

    public string Zone { get; }

    public DnsListAction Action { get; }

    /// <summary>The configuration's id (<c>dns_lists#2 (line 50)</c>); may be empty when built in code.</summary>
    public string Id { get; }

    /// <summary>The rule id of a decision this list made: its id and zone, so the log line names the list.</summary>
    public string Rule => Id.Length == 0 ? "dns_lists " + Zone : $"{Id} {Zone}";

    /// <summary>The name to look up for <paramref name="client"/>.</summary>
    public string QueryName(IPAddress client) => ReversedAddress.InZone(client, Zone);

    /// <summary>True when <paramref name="code"/> (an A record of the query name) is one that counts.</summary>
    public bool Counts(IPAddress code)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (code.IsIPv4MappedToIPv6)
            code = code.MapToIPv4();
        if (code.AddressFamily != AddressFamily.InterNetwork)
            return false;
        var value = ToUInt32(code);
        return _codes.Any(r => value >= r.Low && value <= r.High);
    }

    /// <summary>
    /// True when <paramref name="code"/> is 127.255.255.252-255 and the configuration does not count
    /// it: the list refused the query (a public resolver, a spent quota), which says nothing of the
    /// client and, when it lasts, means the list is of no use until someone looks.
    /// </summary>
    public bool IsRefusal(IPAddress code)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (code.IsIPv4MappedToIPv6)
            code = code.MapToIPv4();
        return code.AddressFamily == AddressFamily.InterNetwork && ToUInt32(code) >= RefusalLow && !Counts(code);
    }

    /// <summary>The action as the configuration writes it: <c>skip_greylist</c>, <c>reject</c>, <c>tempfail</c>.</summary>
    public string ActionName => Action switch
    {
        DnsListAction.SkipGreylist => "skip_greylist",
        DnsListAction.Tempfail => "tempfail",
        _ => "reject",
    };

    public override string ToString() => $"{Zone} ({ActionName})";

    private static (uint, uint) ParseRange(string text)
    {
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        var low = Parse(dash < 0 ? text : text[..dash], text);
        var high = Parse(dash < 0 ? text : text[(dash + 1)..], text);
        return low <= high ? (low, high) : throw new FormatException($"dns_lists codes: '{text}' runs backwards");
    }

    private static uint Parse(string part, string text) =>
        IPAddress.TryParse(part.Trim(), out var address) && address.AddressFamily == AddressFamily.InterNetwork
            ? ToUInt32(address)
            : throw new FormatException($"dns_lists codes: '{text}' is not a return code (127.0.0.2) or range (127.0.0.2-127.0.0.11)");

    private static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }
}
