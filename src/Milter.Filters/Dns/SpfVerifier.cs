using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using ARSoft.Tools.Net.Spf;

namespace Milter.Filters.Dns;

/// <summary>
/// RFC 7208 <c>check_host()</c> (<see cref="SpfEvaluation"/>: ip4, ip6, a, mx, ptr, exists, include,
/// redirect, macros, the lookup limits), resolving through the daemon's resolver so the configured
/// servers, timeout and cache apply. A DNS failure inside the
/// evaluation comes back as <see cref="SpfResult.TempError"/>, never as an exception. A pass is
/// judged for <c>spf_pools</c> by <see cref="SpfPoolBounds"/> (<see cref="SpfCheck.Unbounded"/>).
/// </summary>
public sealed class SpfVerifier
{
    // Native AOT (the packaged build): ARSoft's EnumHelper<T>, which parses every SPF term, reads an
    // enum's values with Enum.GetValues(typeof(T)); that allocates a T[], and native code can only
    // allocate array types the compiler kept. Without these, every record with a mechanism would
    // throw in a static constructor and count as permerror. The DNS end-to-end tests run against
    // the AOT build in .ci/run.
    private static readonly Array[] ArraysForNativeAot =
        [Array.Empty<SpfMechanismType>(), Array.Empty<SpfModifierType>()];

    private readonly IDnsResolver _resolver;
    private readonly SpfPoolBounds _bounds;

    public SpfVerifier(IDnsResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        GC.KeepAlive(ArraysForNativeAot);
        _resolver = resolver;
        _bounds = new SpfPoolBounds(resolver);
    }

    /// <summary>Checks the MAIL FROM identity <paramref name="sender"/> (local@domain) sent by <paramref name="client"/>.</summary>
    /// <param name="helo">The HELO name, for the <c>%{h}</c> macro; null when none was given.</param>
    /// <param name="judgePool">Judge a pass for <c>spf_pools</c>: it reads the records again and
    /// looks up the addresses of their <c>a</c> and <c>mx</c> hosts, which only a pool needs.</param>
    public async Task<SpfCheck> CheckAsync(IPAddress client, string domain, string sender, string? helo, CancellationToken cancellationToken,
        bool judgePool = true)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(domain);
        ArgumentNullException.ThrowIfNull(sender);
        var name = domain.Trim().TrimEnd('.').ToLowerInvariant();
        // A domain that cannot be a DNS name has no record to find (RFC 7208 4.3: result none).
        if (!IsHostName(name) || !DomainName.TryParse(name, out var parsed) || parsed is null)
            return new SpfCheck(name, SpfResult.None);
        if (client.IsIPv4MappedToIPv6)
            client = client.MapToIPv4();

        SpfQualifier result;
        try
        {
            result = await new SpfEvaluation(_resolver, client, sender, helo, cancellationToken).RunAsync(parsed).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A record the parser lets through but nobody can evaluate is a permanent error (RFC 7208 4.6).
            result = SpfQualifier.PermError;
        }
        // A cancelled lookup may have ended as temperror; the caller wants to know it ran out of time.
        cancellationToken.ThrowIfCancellationRequested();
        if (result != SpfQualifier.Pass)
            return new SpfCheck(name, Map(result));
        // A pass says nothing of how wide the record is: judge it for spf_pools.
        if (!judgePool)
            return new SpfCheck(name, SpfResult.Pass) { PoolJudged = false };
        return new SpfCheck(name, SpfResult.Pass) { Unbounded = await _bounds.UnboundedTermAsync(parsed, cancellationToken).ConfigureAwait(false) };
    }

    /// <summary>Two or more labels of letters, digits, hyphens and underscores (RFC 1123, with RFC 2782's underscore), at most 253 characters.</summary>
    internal static bool IsHostName(string name)
    {
        if (name.Length is 0 or > 253)
            return false;
        var labels = name.Split('.');
        return labels.Length >= 2 && labels.All(label =>
            label.Length is > 0 and <= 63 && label[0] != '-' && label[^1] != '-'
            && label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
    }

    private static SpfResult Map(SpfQualifier qualifier) => qualifier switch
    {
        SpfQualifier.Pass => SpfResult.Pass,
        SpfQualifier.Fail => SpfResult.Fail,
        SpfQualifier.SoftFail => SpfResult.SoftFail,
        SpfQualifier.Neutral => SpfResult.Neutral,
        SpfQualifier.TempError => SpfResult.TempError,
        SpfQualifier.PermError => SpfResult.PermError,
        _ => SpfResult.None,
    };
}
