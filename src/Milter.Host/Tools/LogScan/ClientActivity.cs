using System.Net;

namespace MilterHost.Tools.LogScan;

/// <summary>What one client did inside the window: the per-IP aggregate the scan keeps (about 150 bytes).</summary>
public sealed class ClientActivity
{
    private readonly int[] _kinds = new int[EventKinds.Count];

    internal ClientActivity(IPAddress address) => Address = address;

    public IPAddress Address { get; }

    public int Count { get; private set; }

    public DateTimeOffset FirstSeen { get; private set; } = DateTimeOffset.MaxValue;

    public DateTimeOffset LastSeen { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>The reverse name sendmail logged for the client, if any.</summary>
    public string? ReverseName { get; private set; }

    /// <summary>sendmail flagged the name <c>(may be forged)</c>: its forward lookup did not match.</summary>
    public bool NameMayBeForged { get; private set; }

    /// <summary>Events per kind, most frequent first (ties in enum order).</summary>
    public IReadOnlyList<KeyValuePair<EventKind, int>> Kinds =>
        Enumerable.Range(0, _kinds.Length)
            .Where(i => _kinds[i] > 0)
            .OrderByDescending(i => _kinds[i]).ThenBy(i => i)
            .Select(i => KeyValuePair.Create((EventKind)i, _kinds[i]))
            .ToArray();

    public int CountOf(EventKind kind) => _kinds[(int)kind];

    internal void Add(EventKind kind, int count, DateTimeOffset first, DateTimeOffset last)
    {
        _kinds[(int)kind] += count;
        Count += count;
        if (first < FirstSeen)
            FirstSeen = first;
        if (last > LastSeen)
            LastSeen = last;
    }

    /// <summary>Takes back one event of <paramref name="kind"/> (its session turned out to be authenticated).</summary>
    internal void Remove(EventKind kind)
    {
        if (_kinds[(int)kind] == 0)
            return;
        _kinds[(int)kind]--;
        Count--;
    }

    internal void Name(string? name, bool mayBeForged)
    {
        // A verified name wins over a forged one; otherwise the latest is kept.
        if (name is null || (mayBeForged && ReverseName is not null && !NameMayBeForged))
            return;
        ReverseName = name;
        NameMayBeForged = mayBeForged;
    }
}
