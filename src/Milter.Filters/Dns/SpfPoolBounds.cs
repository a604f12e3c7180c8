using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using ARSoft.Tools.Net.Spf;
using SpfRecord = ARSoft.Tools.Net.Spf.SpfRecord;

namespace Milter.Filters.Dns;

/// <summary>
/// Whether a domain's SPF pass can only have come from a bounded set of hosts, so that its servers
/// may share one greylist key (<c>greylist.spf_pools</c>). ARSoft's validator answers the result
/// alone (pass, fail, ...), never which mechanism matched, so this reads the record again and
/// judges every term that could produce a pass, through <c>include:</c> and <c>redirect=</c>:
/// <list type="bullet">
/// <item>unbounded: <c>all</c>, <c>ptr</c> and <c>exists</c> with a pass qualifier (the sender
/// decides which clients they let in: any host, any host with a PTR record in its zone, any
/// address its wildcard answers); <c>ip4</c> ranges wider than /16 and <c>ip6</c> wider than /32;
/// <c>a</c> and <c>mx</c> with such cidr-lengths; a domain-spec with a macro (<c>%{i}</c> makes the
/// client's own address the name looked up); a term this code does not know; and narrow terms that
/// together span more than <see cref="MaxIpv4Addresses"/> or <see cref="MaxIpv6Networks"/> (forty
/// <c>ip4</c> /16s, or one <c>a:</c> /16 whose name has a hundred addresses: the sender's zone
/// decides how many), counted with the addresses of the <c>a</c> and <c>mx</c> hosts.</item>
/// <item>bounded: everything else, and every term whose qualifier is not pass
/// (<c>-</c>, <c>~</c>, <c>?</c> can never produce a pass).</item>
/// </list>
/// The judgement is of the whole record, not of the term that matched: a record with one wide
/// term is no pool even for a client that a narrow term let in. Terms after an <c>all</c> are
/// never evaluated and are not judged; a record that cannot be read again (a lookup failure, more
/// than ten records, no single SPF record) is no pool.
/// </summary>
internal sealed class SpfPoolBounds(IDnsResolver resolver)
{
    /// <summary>The widest IPv4 range that still names a pool of servers rather than a part of the Internet.</summary>
    public const int MinIpv4Prefix = 16;

    /// <summary>The widest IPv6 range that still names a pool (a /32 is one provider's allocation).</summary>
    public const int MinIpv6Prefix = 32;

    /// <summary>The most IPv4 addresses all the passing terms together may span: sixteen /16s (Google's netblocks are a quarter of it).</summary>
    public const long MaxIpv4Addresses = 1L << 20;

    /// <summary>The most IPv6 space all the passing terms together may span, in /64 networks: sixteen /32s.</summary>
    public const double MaxIpv6Networks = 16.0 * (1L << 32);

    // RFC 7208 4.6.4 allows ten DNS-querying terms in an evaluation; the records read here are fewer.
    private const int MaxRecords = 10;

    // RFC 7208 4.6.4: an mx term looks up at most ten hosts' addresses.
    private const int MaxMxHosts = 10;

    // What the passing terms judged so far span, over every record read.
    private sealed class Reach
    {
        public long Ipv4;
        public double Ipv6;
    }

    /// <summary>The first term that could pass an unbounded set of clients, as written (<c>+all</c>, <c>include:x: ptr</c>); null when every passing term is bounded.</summary>
    public async Task<string?> UnboundedTermAsync(DomainName domain, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domain);
        var read = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        return await JudgeAsync(domain, read, new Reach(), cancellationToken).ConfigureAwait(false);
    }

    private async Task<string?> JudgeAsync(DomainName domain, HashSet<string> read, Reach reach, CancellationToken cancellationToken)
    {
        // A record already judged (an include loop is a permerror that never passed) adds nothing.
        if (!read.Add(domain.ToString(false)))
            return null;
        if (read.Count > MaxRecords)
            return $"more than {MaxRecords} records to read";
        List<TxtRecord> answers;
        try
        {
            answers = await resolver.ResolveAsync<TxtRecord>(domain, RecordType.Txt, RecordClass.INet, cancellationToken).ConfigureAwait(false);
        }
        catch (DnsLookupException ex)
        {
            return $"{domain.ToString(false)} could not be read again: {ex.Message}";
        }
        var texts = answers.Select(a => a.TextData).Where(SpfRecord.IsSpfRecord).ToList();
        if (texts.Count != 1 || !SpfRecord.TryParse(texts[0], out var record) || record is null)
            return $"{domain.ToString(false)} has no single valid SPF record";

        string? redirect = null;
        foreach (var term in record.Terms ?? [])
        {
            if (term is SpfModifier { Type: SpfModifierType.Redirect } modifier)
            {
                redirect = modifier.Domain;
                continue;
            }
            if (term is not SpfMechanism mechanism)
                continue;
            if (mechanism.Type == SpfMechanismType.All && mechanism.Qualifier != SpfQualifier.Pass)
                return null; // evaluation ends here, and redirect= is ignored (RFC 7208 6.1)
            if (mechanism.Qualifier != SpfQualifier.Pass)
                continue;
            var problem = mechanism.Type == SpfMechanismType.Include
                ? await JudgeTargetAsync("include:", mechanism.Domain, read, reach, cancellationToken).ConfigureAwait(false)
                : Unbounded(mechanism) ?? await AddReachAsync(mechanism, domain, reach, cancellationToken).ConfigureAwait(false);
            if (problem is not null)
                return problem;
        }
        return redirect is null ? null : await JudgeTargetAsync("redirect=", redirect, read, reach, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string?> JudgeTargetAsync(string term, string? target, HashSet<string> read, Reach reach, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(target) || HasMacro(target) || !DomainName.TryParse(target.TrimEnd('.'), out var name) || name is null)
            return term + target;
        return await JudgeAsync(name, read, reach, cancellationToken).ConfigureAwait(false) is { } inner ? $"{term}{target}: {inner}" : null;
    }

    // Adds what a bounded ip4, ip6, a or mx term spans to the reach; the term as written when the
    // whole no longer names a pool or its hosts cannot be read.
    private async Task<string?> AddReachAsync(SpfMechanism mechanism, DomainName domain, Reach reach, CancellationToken cancellationToken)
    {
        var written = "+" + mechanism;
        if (mechanism.Type is SpfMechanismType.Ip4 or SpfMechanismType.Ip6)
        {
            var address = IPAddress.Parse(mechanism.Domain!);
            Add(reach, address.AddressFamily, address.AddressFamily == AddressFamily.InterNetwork ? mechanism.Prefix ?? 32 : mechanism.Prefix ?? 128, 1);
        }
        else
        {
            DomainName? target = domain;
            if (!string.IsNullOrEmpty(mechanism.Domain) && (!DomainName.TryParse(mechanism.Domain.TrimEnd('.'), out target) || target is null))
                return written;
            try
            {
                var hosts = mechanism.Type == SpfMechanismType.Mx
                    ? [.. (await resolver.ResolveAsync<MxRecord>(target, RecordType.Mx, RecordClass.INet, cancellationToken).ConfigureAwait(false))
                        .OrderBy(mx => mx.Preference).Select(mx => mx.ExchangeDomainName).Take(MaxMxHosts)]
                    : new List<DomainName> { target };
                foreach (var host in hosts)
                {
                    var a = await resolver.ResolveAsync<ARecord>(host, RecordType.A, RecordClass.INet, cancellationToken).ConfigureAwait(false);
                    var aaaa = await resolver.ResolveAsync<AaaaRecord>(host, RecordType.Aaaa, RecordClass.INet, cancellationToken).ConfigureAwait(false);
                    Add(reach, AddressFamily.InterNetwork, mechanism.Prefix ?? 32, a.Count);
                    Add(reach, AddressFamily.InterNetworkV6, mechanism.Prefix6 ?? 128, aaaa.Count);
                }
            }
            catch (DnsLookupException ex)
            {
                return $"{written} (its hosts could not be read again: {ex.Message})";
            }
        }
        if (reach.Ipv4 > MaxIpv4Addresses)
            return $"{written} (the pool would span more than {MaxIpv4Addresses} IPv4 addresses)";
        return reach.Ipv6 > MaxIpv6Networks ? $"{written} (the pool would span more than {MaxIpv6Networks / (1L << 32):0} IPv6 /32s)" : null;
    }

    private static void Add(Reach reach, AddressFamily family, int prefix, int count)
    {
        if (family == AddressFamily.InterNetwork)
            reach.Ipv4 += count * (1L << (32 - Math.Clamp(prefix, 0, 32)));
        else
            reach.Ipv6 += count * Math.Pow(2, 64 - Math.Clamp(prefix, 0, 64));
    }

    // Null when the mechanism can only pass a bounded set of hosts.
    private static string? Unbounded(SpfMechanism mechanism)
    {
        var written = "+" + mechanism;
        switch (mechanism.Type)
        {
            case SpfMechanismType.Ip4:
            case SpfMechanismType.Ip6:
                if (!IPAddress.TryParse(mechanism.Domain, out var address))
                    return written;
                var full = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
                var min = address.AddressFamily == AddressFamily.InterNetwork ? MinIpv4Prefix : MinIpv6Prefix;
                return (mechanism.Prefix ?? full) < min ? $"{written} (wider than /{min})" : null;
            case SpfMechanismType.A:
            case SpfMechanismType.Mx:
                if (HasMacro(mechanism.Domain))
                    return written;
                if ((mechanism.Prefix ?? 32) < MinIpv4Prefix)
                    return $"{written} (wider than /{MinIpv4Prefix})";
                return (mechanism.Prefix6 ?? 128) < MinIpv6Prefix ? $"{written} (wider than /{MinIpv6Prefix})" : null;
            default:
                // all, ptr, exists, and anything unknown.
                return written;
        }
    }

    private static bool HasMacro(string? domainSpec) => domainSpec is not null && domainSpec.Contains('%', StringComparison.Ordinal);
}
