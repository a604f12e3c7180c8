namespace Milter.Filters.Dns;

/// <summary>What the SPF record of <paramref name="Domain"/> says about the client address.</summary>
public sealed record SpfCheck(string Domain, SpfResult Result)
{
    /// <summary>
    /// For a pass: the first term of the record that could pass a wide part of the Internet
    /// (<c>+all</c>, <c>ptr</c>, <c>ip4:10.0.0.0/8</c>, ...; see <see cref="SpfPoolBounds"/>); such a
    /// domain is no greylist pool. Null when every term that could pass names a bounded set of hosts.
    /// </summary>
    public string? Unbounded { get; init; }

    /// <summary>
    /// The identity checked was the HELO name (RFC 7208 section 2.3), for the null sender, rather
    /// than the MAIL FROM domain: no greylist pool, since the triplet keys the sender.
    /// </summary>
    public bool OfHelo { get; init; }

    /// <summary>False when the pass was not judged for <c>spf_pools</c> (off): it is then no pool.</summary>
    public bool PoolJudged { get; init; } = true;

    /// <summary>True for a MAIL FROM pass that only a bounded set of hosts can earn: the domain's servers may share one greylist key.</summary>
    public bool IsPool => Result == SpfResult.Pass && PoolJudged && Unbounded is null && !OfHelo;

    public override string ToString() =>
        Unbounded is null ? $"{Result.ToString().ToLowerInvariant()} ({Domain})" : $"{Result.ToString().ToLowerInvariant()} ({Domain}; no pool: {Unbounded})";
}
