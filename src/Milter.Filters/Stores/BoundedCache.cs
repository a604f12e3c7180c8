namespace Milter.Filters.Stores;

/// <summary>
/// A size-bounded map with approximate least-recently-used eviction: two generations; when the young
/// one fills half the capacity it becomes the old one and the previous old one is dropped. A hit in
/// the old generation moves the entry to the young one. O(1) per operation, at most
/// <c>capacity</c> entries; each value dropped by eviction is handed to <c>evicted</c>. With a
/// weight (the bytes a value holds), the young generation also turns over once it weighs half of
/// <c>maxWeight</c>, so the whole stays under <c>maxWeight</c> plus one value.
/// </summary>
public sealed class BoundedCache<TKey, TValue> where TKey : notnull
{
    private readonly Lock _lock = new();
    private readonly int _generationSize;
    private readonly Action<TValue>? _evicted;
    private readonly Func<TValue, long>? _weight;
    private readonly long _generationWeight;
    private long _youngWeight;
    private Dictionary<TKey, TValue> _young;
    private Dictionary<TKey, TValue> _old;

    public BoundedCache(int capacity, Action<TValue>? evicted = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        _generationSize = capacity / 2;
        _evicted = evicted;
        _young = new Dictionary<TKey, TValue>();
        _old = new Dictionary<TKey, TValue>();
    }

    /// <summary>Bounded by count and by the sum of <paramref name="weight"/> over the values held.</summary>
    public BoundedCache(int capacity, long maxWeight, Func<TValue, long> weight, Action<TValue>? evicted = null)
        : this(capacity, evicted)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWeight, 2);
        _weight = weight;
        _generationWeight = maxWeight / 2;
    }

    public int Count
    {
        get { lock (_lock) return _young.Count + _old.Count; }
    }

    /// <summary>A copy of the values held, young and old.</summary>
    public IReadOnlyList<TValue> Values
    {
        get { lock (_lock) return [.. _young.Values, .. _old.Values]; }
    }

    public bool TryGet(TKey key, out TValue value)
    {
        lock (_lock)
        {
            if (_young.TryGetValue(key, out value!))
                return true;
            if (!_old.Remove(key, out value!))
                return false;
            AddYoung(key, value);
            return true;
        }
    }

    public void Set(TKey key, TValue value)
    {
        lock (_lock)
        {
            _old.Remove(key);
            AddYoung(key, value);
        }
    }

    public void Remove(TKey key)
    {
        lock (_lock)
        {
            _young.Remove(key);
            _old.Remove(key);
        }
    }

    public void RemoveWhere(Func<TKey, bool> predicate)
    {
        lock (_lock)
        {
            foreach (var key in _young.Keys.Where(predicate).ToList())
                _young.Remove(key);
            foreach (var key in _old.Keys.Where(predicate).ToList())
                _old.Remove(key);
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _young.Clear();
            _old.Clear();
            _youngWeight = 0;
        }
    }

    private void AddYoung(TKey key, TValue value)
    {
        _young[key] = value;
        // A value replaced in the young generation is counted twice: it only turns over sooner.
        if (_weight is not null)
            _youngWeight += _weight(value);
        if (_young.Count < _generationSize && (_weight is null || _youngWeight < _generationWeight))
            return;
        if (_evicted is not null)
        {
            foreach (var dropped in _old.Values)
                _evicted(dropped);
        }
        _old = _young;
        _young = new Dictionary<TKey, TValue>();
        _youngWeight = 0;
    }
}
