namespace MilterHost.Tools.LogScan;

/// <summary>
/// A map that holds at most <c>2 × generation</c> entries: entries live in a young and an old
/// generation; when the young one fills, the old one is dropped (each dropped value handed to
/// <c>evicted</c>) and the young one becomes old. A hit in the old generation moves the entry back to
/// the young one, so what is dropped is what was not touched for the longest time, at O(1) per call.
/// </summary>
internal sealed class BoundedMap<TKey, TValue> where TKey : notnull
{
    private readonly int _generation;
    private readonly Action<TValue>? _evicted;
    private Dictionary<TKey, TValue> _young = [];
    private Dictionary<TKey, TValue> _old = [];

    public BoundedMap(int capacity, Action<TValue>? evicted = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        _generation = capacity / 2;
        _evicted = evicted;
    }

    public int Count => _young.Count + _old.Count;

    public IEnumerable<TValue> Values => _young.Values.Concat(_old.Values);

    public bool TryGet(TKey key, out TValue value)
    {
        if (_young.TryGetValue(key, out value!))
            return true;
        if (!_old.Remove(key, out value!))
            return false;
        Set(key, value);
        return true;
    }

    public void Remove(TKey key)
    {
        _young.Remove(key);
        _old.Remove(key);
    }

    public void Set(TKey key, TValue value)
    {
        _old.Remove(key);
        _young[key] = value;
        if (_young.Count < _generation)
            return;
        if (_evicted is not null)
        {
            foreach (var dropped in _old.Values)
                _evicted(dropped);
        }
        var recycled = _old;
        recycled.Clear();
        _old = _young;
        _young = recycled;
    }
}
