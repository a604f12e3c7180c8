using System.Globalization;
using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Milter.Filters.Configuration;
using Milter.Filters.Stores;
using ArDnsClient = ARSoft.Tools.Net.Dns.DnsClient;

namespace Milter.Filters.Dns;

/// <summary>
/// The daemon's one stub resolver: asks the configured servers in order, each with an equal share
/// of the time left (UDP, TCP when the answer is truncated), through ARSoft.Tools.Net, and caches
/// answers, negative ones included, for as long as their TTL says, in a bounded cache that keeps
/// no answer over 2 KB of text. The SPF validator, the reverse DNS check and the DNS lists all
/// resolve through it. A lookup that gets no usable answer from any server within
/// <c>dns.timeout</c> throws <see cref="DnsLookupException"/>; an empty list means the name or the
/// record does not exist (NXDOMAIN, NODATA).
/// </summary>
public sealed class DnsResolver : IDnsResolver, IDisposable
{
    /// <summary>Answers kept at most; a busy MX sees a few lookups per connection.</summary>
    public const int DefaultCacheCapacity = 20_000;

    // Bounds on what a server may ask us to remember: a day for answers (RFC 2181 allows 68 years),
    // an hour for "does not exist" (RFC 2308 suggests up to three).
    private static readonly TimeSpan MaxTtl = TimeSpan.FromDays(1);
    private static readonly TimeSpan MaxNegativeTtl = TimeSpan.FromHours(1);

    // A CNAME chain longer than this is a loop or an abuse; resolvers give up near here too.
    private const int MaxCnameHops = 8;

    // The cache counts answers, not bytes, and a zone's owner (a sender domain, a client's reverse
    // zone) can write an answer of ~64 KB, ~175 KB once parsed: 20,000 of them would hold gigabytes.
    // Real answers are a few records of a few hundred characters; a bigger one is asked again.
    private const int MaxCachedAnswerText = 2048;

    // And all of them together: 4 MB of record text (about 12 MB parsed), whatever the count.
    private const long MaxCachedText = 4 * 1024 * 1024;

    private readonly (IPEndPoint Server, ArDnsClient Client, IDisposable[] Transports)[] _servers;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly BoundedCache<(string Name, RecordType Type, RecordClass Class), CachedAnswer> _cache;

    public DnsResolver(IReadOnlyList<IPEndPoint> servers, TimeSpan timeout, TimeProvider time, int cacheCapacity = DefaultCacheCapacity)
    {
        ArgumentNullException.ThrowIfNull(servers);
        ArgumentNullException.ThrowIfNull(time);
        if (servers.Count == 0)
            throw new ArgumentException("at least one DNS server is needed", nameof(servers));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        _timeout = timeout;
        _time = time;
        _cache = new BoundedCache<(string, RecordType, RecordClass), CachedAnswer>(cacheCapacity, MaxCachedText, a => a.TextLength);
        var milliseconds = (int)Math.Clamp(timeout.TotalMilliseconds / servers.Count, 1, int.MaxValue);
        _servers = [.. servers.Select(server =>
        {
            var udp = new UdpClientTransport(server.Port);
            var tcp = new TcpClientTransport(server.Port);
            var client = new ArDnsClient([server.Address], [udp, tcp], false, milliseconds) { IsResponseValidationEnabled = true };
            return (server, client, new IDisposable[] { udp, tcp });
        })];
    }

    /// <summary>A resolver for <c>dns.servers</c> (empty: resolv.conf) and <c>dns.timeout</c>.</summary>
    /// <exception cref="FormatException">A server entry is not an address with an optional port.</exception>
    public static DnsResolver Create(DnsOptions options, TimeProvider time, string resolvConf = DnsServers.ResolvConf)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new DnsResolver(DnsServers.Resolve(options.Servers, resolvConf), options.Timeout, time);
    }

    /// <summary>The servers asked, in order.</summary>
    public IReadOnlyList<IPEndPoint> Servers => [.. _servers.Select(s => s.Server)];

    /// <summary>How long one lookup may take over all servers.</summary>
    public TimeSpan Timeout => _timeout;

    /// <summary>Answers held in the cache.</summary>
    public int CachedAnswers => _cache.Count;

    /// <summary>The records of <paramref name="recordType"/> at <paramref name="name"/>, following CNAMEs; empty when there are none.</summary>
    /// <exception cref="DnsLookupException">No server gave a usable answer in time.</exception>
    public async Task<List<T>> ResolveAsync<T>(DomainName name, RecordType recordType = RecordType.A, RecordClass recordClass = RecordClass.INet,
        CancellationToken token = default) where T : DnsRecordBase
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = (name.ToString(false).ToLowerInvariant(), recordType, recordClass);
        var now = _time.GetUtcNow();
        if (_cache.TryGet(key, out var cached) && now < cached.Expires)
            return [.. cached.Records.OfType<T>()];

        var answer = await QueryAsync(name, recordType, recordClass, token).ConfigureAwait(false);
        var ttl = answer.Ttl;
        if (ttl > TimeSpan.Zero && TextLength(answer.Records) is { } length)
            _cache.Set(key, new CachedAnswer(answer.Records, _time.GetUtcNow() + ttl, length));
        return [.. answer.Records.OfType<T>()];
    }

    /// <summary>Not offered: every lookup on a session path is asynchronous.</summary>
    public List<T> Resolve<T>(DomainName name, RecordType recordType = RecordType.A, RecordClass recordClass = RecordClass.INet) where T : DnsRecordBase =>
        throw new NotSupportedException("milterhost resolves asynchronously only; use ResolveAsync");

    public void ClearCache() => _cache.Clear();

    public void Dispose()
    {
        foreach (var (_, _, transports) in _servers)
        {
            foreach (var transport in transports)
                transport.Dispose();
        }
    }

    private async Task<Answer> QueryAsync(DomainName name, RecordType type, RecordClass recordClass, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(_timeout, _time);
        var start = _time.GetTimestamp();
        var problems = new List<string>();
        for (var i = 0; i < _servers.Length && !deadline.IsCancellationRequested; i++)
        {
            var (server, client, _) = _servers[i];
            // Each server gets an equal share of the time left, so that a silent one (a firewall that
            // drops) leaves the next one time to answer.
            var share = (_timeout - _time.GetElapsedTime(start)) / (_servers.Length - i);
            using var attempt = new CancellationTokenSource(share > TimeSpan.Zero ? share : TimeSpan.FromMilliseconds(1), _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token, attempt.Token);
            DnsMessage? message;
            try
            {
                message = await client.ResolveAsync(name, type, recordClass, null, linked.Token).WaitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                problems.Add($"{server}: no answer");
                continue; // the next server, if the lookup has time left
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Whatever the library met (a socket error, an answer it cannot parse): this server failed.
                problems.Add($"{server}: {ex.Message}");
                continue;
            }
            if (message is null)
            {
                problems.Add($"{server}: no answer");
                continue;
            }
            if (message.ReturnCode is ReturnCode.NoError or ReturnCode.NxDomain)
                return Read(name, type, message);
            problems.Add($"{server}: {message.ReturnCode}");
        }
        throw new DnsLookupException(string.Create(CultureInfo.InvariantCulture,
            $"{name.ToString(false)} {type}: {string.Join(", ", problems)} (within {_timeout.TotalSeconds:0.###}s)"));
    }

    private static Answer Read(DomainName name, RecordType type, DnsMessage message)
    {
        var records = new List<DnsRecordBase>();
        var ttl = MaxTtl;
        var current = name;
        for (var hop = 0; hop <= MaxCnameHops; hop++)
        {
            var owner = current;
            foreach (var record in message.AnswerRecords)
            {
                if (record.RecordType == type && record.Name.Equals(owner, true))
                {
                    records.Add(record);
                    ttl = Min(ttl, Seconds(record.TimeToLive));
                }
            }
            if (records.Count > 0 || type == RecordType.CName)
                break;
            var alias = message.AnswerRecords.OfType<CNameRecord>().FirstOrDefault(r => r.Name.Equals(owner, true));
            if (alias is null)
                break;
            ttl = Min(ttl, Seconds(alias.TimeToLive));
            current = alias.CanonicalName;
        }
        if (records.Count > 0)
            return new Answer([.. records], ttl);

        // Negative answer (RFC 2308): the SOA in the authority section says how long it holds;
        // without one it is not cached (section 5).
        var soa = message.AuthorityRecords.OfType<SoaRecord>().FirstOrDefault();
        var negative = soa is null ? TimeSpan.Zero : Seconds(Math.Min(soa.TimeToLive, soa.NegativeCachingTTL));
        return new Answer([], Min(Min(negative, MaxNegativeTtl), ttl));
    }

    // The answer's length as text, or null when it is too big to keep.
    private static int? TextLength(DnsRecordBase[] records)
    {
        var length = 0;
        foreach (var record in records)
        {
            length += record.ToString().Length;
            if (length > MaxCachedAnswerText)
                return null;
        }
        return length;
    }

    private static TimeSpan Seconds(int ttl) => TimeSpan.FromSeconds(Math.Max(0, ttl));

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private sealed record Answer(DnsRecordBase[] Records, TimeSpan Ttl);

    private sealed record CachedAnswer(DnsRecordBase[] Records, DateTimeOffset Expires, int TextLength);
}
