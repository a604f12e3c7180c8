using System.Net;
using System.Net.Sockets;
using System.Text;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using ARSoft.Tools.Net.Spf;
using SpfRecord = ARSoft.Tools.Net.Spf.SpfRecord;

namespace Milter.Filters.Dns;

/// <summary>
/// One RFC 7208 <c>check_host()</c>: records parsed by ARSoft.Tools.Net's <see cref="SpfRecord"/>,
/// evaluated here, where ARSoft's own validator strays from the RFC in ways that turn into a wrong
/// <c>fail</c>, and so a wrong refusal under <c>spf.reject_fail</c>: it wrote an IPv6 client's
/// <c>%{i}</c> as decimal bytes instead of nibbles, knew no void-lookup limit, and stopped after the
/// ninth MX host without a permerror. Here: at most 10 terms that query DNS (include, a, mx, ptr,
/// exists, redirect), at most 2 of them void (no answer or NXDOMAIN), at most 10 MX hosts and the
/// first 10 PTR names (4.6.4), and the macros of section 7 (<c>p</c> as "unknown", which 7.3 allows;
/// <c>c</c>, <c>r</c> and <c>t</c>, for explanations only, a permerror elsewhere). A DNS failure is
/// temperror (a PTR lookup's is no match, 5.5); a name that does not exist is a void lookup.
/// </summary>
internal sealed class SpfEvaluation(IDnsResolver dns, IPAddress client, string sender, string? helo, CancellationToken cancellationToken)
{
    private const int MaxDnsTerms = 10, MaxVoidLookups = 2, MaxAddressLookups = 10, MaxNameLength = 253;

    private int _dnsTerms;
    private int _voidLookups;

    /// <summary>Raised to end the whole evaluation with a result (a limit crossed, a DNS failure).</summary>
    private sealed class Ended(SpfQualifier result) : Exception
    {
        public SpfQualifier Result { get; } = result;
    }

    public async Task<SpfQualifier> RunAsync(DomainName domain)
    {
        try
        {
            return await CheckHostAsync(domain).ConfigureAwait(false) ?? SpfQualifier.None;
        }
        catch (Ended ended)
        {
            return ended.Result;
        }
    }

    /// <summary>The result for <paramref name="domain"/>; null for "none" (no SPF record).</summary>
    private async Task<SpfQualifier?> CheckHostAsync(DomainName domain)
    {
        var texts = (await ResolveAsync<TxtRecord>(domain, RecordType.Txt).ConfigureAwait(false))
            .Select(t => t.TextData).Where(IsSpf1).ToList();
        if (texts.Count == 0)
            return null;
        if (texts.Count > 1)
            return SpfQualifier.PermError;
        // A record with no term: nothing matches, no redirect (4.7).
        if (string.IsNullOrWhiteSpace(texts[0][6..]))
            return SpfQualifier.Neutral;
        // "v=spf1" in any case (the ABNF's strings are case-insensitive); ARSoft's parser wants it lowercase.
        if (!SpfRecord.TryParse("v=spf1" + texts[0][6..], out var record) || record is null)
            return SpfQualifier.PermError;

        SpfModifier? redirect = null;
        foreach (var term in record.Terms ?? [])
        {
            if (term is SpfModifier modifier)
            {
                if (modifier.Type == SpfModifierType.Redirect)
                {
                    if (redirect is not null)
                        return SpfQualifier.PermError;
                    redirect = modifier;
                }
                continue;
            }
            if (term is not SpfMechanism mechanism)
                continue;
            if (await MatchesAsync(mechanism, domain).ConfigureAwait(false))
                return mechanism.Qualifier;
        }
        if (redirect is null)
            return SpfQualifier.Neutral;
        CountDnsTerm();
        var target = Target(redirect.Domain, domain);
        // A redirect to a domain without a record is a permerror (6.1).
        return await CheckHostAsync(target).ConfigureAwait(false) ?? SpfQualifier.PermError;
    }

    private async Task<bool> MatchesAsync(SpfMechanism mechanism, DomainName domain)
    {
        switch (mechanism.Type)
        {
            case SpfMechanismType.All:
                return true;
            case SpfMechanismType.Ip4:
            case SpfMechanismType.Ip6:
            {
                // A malformed address or prefix is a syntax error (4.6.1); one of the other family only does not match.
                var family = mechanism.Type == SpfMechanismType.Ip4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                var full = family == AddressFamily.InterNetwork ? 32 : 128;
                if (!IPAddress.TryParse(mechanism.Domain, out var network) || network.AddressFamily != family
                    || (family == AddressFamily.InterNetwork && mechanism.Domain!.Count(c => c == '.') != 3)
                    || mechanism.Prefix is < 0 || mechanism.Prefix > full)
                    throw new Ended(SpfQualifier.PermError);
                return InNetwork(client, network, mechanism.Prefix ?? full);
            }
            case SpfMechanismType.Include:
            {
                CountDnsTerm();
                var target = Target(mechanism.Domain, domain);
                return await CheckHostAsync(target).ConfigureAwait(false) switch
                {
                    SpfQualifier.Pass => true,
                    SpfQualifier.TempError => throw new Ended(SpfQualifier.TempError),
                    null or SpfQualifier.PermError => throw new Ended(SpfQualifier.PermError),
                    _ => false,
                };
            }
            case SpfMechanismType.A:
            {
                CountDnsTerm();
                var target = Target(mechanism.Domain, domain);
                var addresses = await AddressesAsync(target).ConfigureAwait(false);
                CountIfVoid(addresses.Count);
                return addresses.Any(a => InNetwork(client, a, Prefix(mechanism)));
            }
            case SpfMechanismType.Mx:
            {
                CountDnsTerm();
                var target = Target(mechanism.Domain, domain);
                var hosts = await ResolveAsync<MxRecord>(target, RecordType.Mx).ConfigureAwait(false);
                CountIfVoid(hosts.Count);
                if (hosts.Count > MaxAddressLookups)
                    throw new Ended(SpfQualifier.PermError);
                foreach (var host in hosts.OrderBy(h => h.Preference))
                {
                    if ((await AddressesAsync(host.ExchangeDomainName).ConfigureAwait(false)).Any(a => InNetwork(client, a, Prefix(mechanism))))
                        return true;
                }
                return false;
            }
            case SpfMechanismType.Ptr:
            {
                CountDnsTerm();
                var target = Target(mechanism.Domain, domain);
                return await PtrMatchesAsync(target).ConfigureAwait(false);
            }
            case SpfMechanismType.Exists:
            {
                CountDnsTerm();
                var target = Target(mechanism.Domain, domain);
                var found = await ResolveAsync<ARecord>(target, RecordType.A).ConfigureAwait(false);
                CountIfVoid(found.Count);
                return found.Count > 0;
            }
            default:
                // An unknown mechanism is a syntax error (4.6.1).
                throw new Ended(SpfQualifier.PermError);
        }
    }

    private int Prefix(SpfMechanism mechanism)
    {
        if (mechanism.Prefix is < 0 or > 32 || mechanism.Prefix6 is < 0 or > 128)
            throw new Ended(SpfQualifier.PermError);
        return client.AddressFamily == AddressFamily.InterNetwork ? mechanism.Prefix ?? 32 : mechanism.Prefix6 ?? 128;
    }

    /// <summary>ptr (5.5): a name of the client's PTR records (the first 10) that is, or ends in, the target and resolves back to the client.</summary>
    private async Task<bool> PtrMatchesAsync(DomainName target)
    {
        List<PtrRecord> names;
        try
        {
            names = await dns.ResolveAsync<PtrRecord>(client.GetReverseLookupDomain(), RecordType.Ptr, RecordClass.INet, cancellationToken).ConfigureAwait(false);
        }
        catch (DnsLookupException)
        {
            return false;
        }
        foreach (var name in names.Take(MaxAddressLookups))
        {
            var validated = name.PointerDomainName;
            if (!validated.Equals(target) && !validated.IsSubDomainOf(target))
                continue;
            try
            {
                if ((await AddressesAsync(validated).ConfigureAwait(false)).Any(a => a.Equals(client)))
                    return true;
            }
            catch (Ended ended) when (ended.Result == SpfQualifier.TempError)
            {
                // A failed lookup of one name does not match (5.5).
            }
        }
        return false;
    }

    /// <summary>The addresses of <paramref name="name"/> in the client's family.</summary>
    private async Task<List<IPAddress>> AddressesAsync(DomainName name) =>
        client.AddressFamily == AddressFamily.InterNetwork
            ? [.. (await ResolveAsync<ARecord>(name, RecordType.A).ConfigureAwait(false)).Select(r => r.Address)]
            : [.. (await ResolveAsync<AaaaRecord>(name, RecordType.Aaaa).ConfigureAwait(false)).Select(r => r.Address)];

    private async Task<List<T>> ResolveAsync<T>(DomainName name, RecordType type) where T : DnsRecordBase
    {
        try
        {
            return await dns.ResolveAsync<T>(name, type, RecordClass.INet, cancellationToken).ConfigureAwait(false);
        }
        catch (DnsLookupException)
        {
            throw new Ended(SpfQualifier.TempError);
        }
    }

    private void CountDnsTerm()
    {
        if (++_dnsTerms > MaxDnsTerms)
            throw new Ended(SpfQualifier.PermError);
    }

    private void CountIfVoid(int answers)
    {
        if (answers == 0 && ++_voidLookups > MaxVoidLookups)
            throw new Ended(SpfQualifier.PermError);
    }

    /// <summary>The mechanism's domain-spec, macros expanded, or the current domain when it has none.</summary>
    private DomainName Target(string? spec, DomainName current)
    {
        if (string.IsNullOrEmpty(spec))
            return current;
        var expanded = Expand(spec, current);
        // Too long: labels are dropped from the left until it fits (7.3).
        while (expanded.Length > MaxNameLength && expanded.IndexOf('.') is var dot and >= 0)
            expanded = expanded[(dot + 1)..];
        return SpfVerifier.IsHostName(expanded.TrimEnd('.').ToLowerInvariant()) && DomainName.TryParse(expanded.TrimEnd('.'), out var name) && name is not null
            ? name
            : throw new Ended(SpfQualifier.PermError);
    }

    /// <summary>Section 7's macros in a domain-spec; a malformed one is a permerror.</summary>
    internal string Expand(string spec, DomainName current)
    {
        var result = new StringBuilder(spec.Length + 32);
        for (var i = 0; i < spec.Length; i++)
        {
            var c = spec[i];
            if (c != '%')
            {
                result.Append(c);
                continue;
            }
            if (++i >= spec.Length)
                throw new Ended(SpfQualifier.PermError);
            switch (spec[i])
            {
                case '%':
                    result.Append('%');
                    continue;
                case '_':
                    result.Append(' ');
                    continue;
                case '-':
                    result.Append("%20");
                    continue;
                case '{':
                    break;
                default:
                    throw new Ended(SpfQualifier.PermError);
            }
            var close = spec.IndexOf('}', i);
            if (close < 0 || close == i + 1)
                throw new Ended(SpfQualifier.PermError);
            result.Append(Macro(spec[(i + 1)..close], current));
            i = close;
        }
        return result.ToString();
    }

    private string Macro(string macro, DomainName current)
    {
        var letter = macro[0];
        var value = char.ToLowerInvariant(letter) switch
        {
            's' => Sender,
            'l' => LocalPart,
            'o' => SenderDomain,
            'd' => current.ToString(false).TrimEnd('.'),
            'i' => client.AddressFamily == AddressFamily.InterNetwork
                ? client.ToString()
                : string.Join('.', Convert.ToHexStringLower(client.GetAddressBytes()).ToCharArray()),
            'p' => "unknown",
            'v' => client.AddressFamily == AddressFamily.InterNetwork ? "in-addr" : "ip6",
            'h' => string.IsNullOrEmpty(helo) ? "unknown" : helo.Trim().TrimEnd('.'),
            _ => throw new Ended(SpfQualifier.PermError), // c, r, t: for explanations only; others unknown
        };
        // Transformers: digits (keep that many parts from the right), r (reverse), then delimiters.
        var at = 1;
        var digits = 0;
        while (at < macro.Length && char.IsAsciiDigit(macro[at]))
            digits = Math.Min(digits * 10 + (macro[at++] - '0'), 1000);
        if (at > 1 && digits == 0)
            throw new Ended(SpfQualifier.PermError);
        var reverse = at < macro.Length && macro[at] is 'r' or 'R';
        if (reverse)
            at++;
        var delimiters = macro[at..];
        if (delimiters.Any(d => ".-+,/_=".IndexOf(d) < 0))
            throw new Ended(SpfQualifier.PermError);
        if (at > 1 || delimiters.Length > 0)
        {
            IEnumerable<string> parts = value.Split(delimiters.Length > 0 ? delimiters.ToCharArray() : ['.']);
            if (reverse)
                parts = parts.Reverse();
            var list = parts.ToList();
            if (digits > 0 && digits < list.Count)
                list = list[^digits..];
            value = string.Join('.', list);
        }
        // An uppercase macro letter is URL-escaped (7.3).
        return char.IsUpper(letter) ? Uri.EscapeDataString(value) : value;
    }

    // The sender as check_host() takes it: local-part@domain; a sender without a local part is postmaster (4.3).
    private string Sender => sender.Contains('@') ? (LocalPart + "@" + SenderDomain) : "postmaster@" + sender;

    private string LocalPart => sender.LastIndexOf('@') is var at and > 0 ? sender[..at] : "postmaster";

    private string SenderDomain => sender.LastIndexOf('@') is var at and >= 0 ? sender[(at + 1)..] : sender;

    private static bool IsSpf1(string text) =>
        text.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (text.Length == 6 || text[6] == ' ');

    private static bool InNetwork(IPAddress address, IPAddress network, int prefix) =>
        address.AddressFamily == network.AddressFamily && Stores.IPNetworks.Containing(network, prefix).Contains(address);
}
