using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Milter.Filters.Dns;

namespace Milter.Filters.Tests.Dns;

/// <summary>
/// A resolver double for what a real server cannot easily play: answers from a table, and names
/// that fail (SERVFAIL) or never answer. A name it does not know does not exist (empty answer).
/// It counts the queries it was asked, to check lookup limits and caching.
/// </summary>
internal sealed class FakeDns : IDnsResolver
{
    private readonly Dictionary<(string Name, RecordType Type), List<DnsRecordBase>> _records = [];
    private readonly HashSet<(string, RecordType)> _failing = [];
    private readonly HashSet<(string, RecordType)> _hanging = [];
    private readonly ConcurrentQueue<string> _asked = new();

    /// <summary>Every query so far, as <c>name TYPE</c>.</summary>
    public IReadOnlyList<string> Asked => [.. _asked];

    /// <summary>When set, every query waits until cancelled.</summary>
    public bool HangAll { get; set; }

    public FakeDns Txt(string name, params string[] texts) =>
        AddAll(name, RecordType.Txt, texts.Select(t => (DnsRecordBase)new TxtRecord(Parse(name), 300, t)));

    public FakeDns A(string name, params string[] addresses) =>
        AddAll(name, RecordType.A, addresses.Select(IPAddress.Parse).Where(a => a.AddressFamily == AddressFamily.InterNetwork)
            .Select(a => (DnsRecordBase)new ARecord(Parse(name), 300, a)))
        .AddAll(name, RecordType.Aaaa, addresses.Select(IPAddress.Parse).Where(a => a.AddressFamily == AddressFamily.InterNetworkV6)
            .Select(a => (DnsRecordBase)new AaaaRecord(Parse(name), 300, a)));

    public FakeDns Ptr(string address, params string[] names)
    {
        var owner = ReversedAddress.PointerName(IPAddress.Parse(address));
        return AddAll(owner, RecordType.Ptr, names.Select(n => (DnsRecordBase)new PtrRecord(Parse(owner), 300, Parse(n))));
    }

    public FakeDns Mx(string name, params string[] exchanges) =>
        AddAll(name, RecordType.Mx, exchanges.Select((e, i) => (DnsRecordBase)new MxRecord(Parse(name), 300, (ushort)(10 * (i + 1)), Parse(e))));

    /// <summary>Lists <paramref name="client"/> in <paramref name="zone"/> with <paramref name="codes"/>.</summary>
    public FakeDns Listed(string zone, string client, params string[] codes) =>
        A(ReversedAddress.InZone(IPAddress.Parse(client), zone), codes.Length == 0 ? ["127.0.0.2"] : codes);

    /// <summary>Queries for this name and type fail as a SERVFAIL would.</summary>
    public FakeDns Fail(string name, RecordType type)
    {
        _failing.Add((Key(name), type));
        return this;
    }

    /// <summary>Queries for this name and type never get an answer.</summary>
    public FakeDns Hang(string name, RecordType type)
    {
        _hanging.Add((Key(name), type));
        return this;
    }

    public async Task<List<T>> ResolveAsync<T>(DomainName name, RecordType recordType = RecordType.A, RecordClass recordClass = RecordClass.INet,
        CancellationToken token = default) where T : DnsRecordBase
    {
        var key = (Key(name.ToString()), recordType);
        _asked.Enqueue($"{key.Item1} {recordType}");
        if (HangAll || _hanging.Contains(key))
            await Task.Delay(Timeout.Infinite, token);
        if (_failing.Contains(key))
            throw new DnsLookupException($"{key.Item1} {recordType}: ServerFailure");
        return _records.TryGetValue(key, out var records) ? [.. records.OfType<T>()] : [];
    }

    public List<T> Resolve<T>(DomainName name, RecordType recordType = RecordType.A, RecordClass recordClass = RecordClass.INet) where T : DnsRecordBase =>
        throw new NotSupportedException();

    public void ClearCache()
    {
    }

    public void Dispose()
    {
    }

    private FakeDns AddAll(string name, RecordType type, IEnumerable<DnsRecordBase> records)
    {
        var list = records.ToList();
        if (list.Count == 0)
            return this;
        var key = (Key(name), type);
        if (!_records.TryGetValue(key, out var existing))
            _records[key] = existing = [];
        existing.AddRange(list);
        return this;
    }

    private static string Key(string name) => name.Trim().TrimEnd('.').ToLowerInvariant();

    private static DomainName Parse(string name) => DomainName.Parse(name.Trim().TrimEnd('.'));
}
