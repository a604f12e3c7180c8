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
/// client's own address the name looked up); a term this code does not know.</item>
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

    // RFC 7208 4.6.4 allows ten DNS-querying terms in an evaluation; the records read here are fewer.
    private const int MaxRecords = 10;

    /// <summary>The first term that could pass an unbounded set of clients, as written (<c>+all</c>, <c>include:x: ptr</c>); null when every passing term is bounded.</summary>
    public async Task<string?> UnboundedTermAsync(DomainName domain, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domain);
        var read = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        return await JudgeAsync(domain, read, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string?> JudgeAsync(DomainName domain, HashSet<string> read, CancellationToken cancellationToken)
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
                ? await JudgeTargetAsync("include:", mechanism.Domain, read, cancellationToken).ConfigureAwait(false)
                : Unbounded(mechanism);
            if (problem is not null)
                return problem;
        }
        return redirect is null ? null : await JudgeTargetAsync("redirect=", redirect, read, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string?> JudgeTargetAsync(string term, string? target, HashSet<string> read, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(target) || HasMacro(target) || !DomainName.TryParse(target.TrimEnd('.'), out var name) || name is null)
            return term + target;
        return await JudgeAsync(name, read, cancellationToken).ConfigureAwait(false) is { } inner ? $"{term}{target}: {inner}" : null;
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
