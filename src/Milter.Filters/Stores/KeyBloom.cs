namespace Milter.Filters.Stores;

/// <summary>
/// A Bloom filter over 64-bit key hashes: <see cref="MayContain"/> is false only for a hash never
/// added, and true for about 1 % of the others while no more than <see cref="Capacity"/> distinct
/// keys were added (10 bits and 7 probes per key). Safe for any number of threads adding and asking
/// at once: an add is visible to every ask that starts after it returns.
/// </summary>
internal sealed class KeyBloom
{
    private const int BitsPerKey = 10;
    private const int Probes = 7;
    private readonly ulong[] _words;
    private readonly ulong _bits;

    public KeyBloom(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _words = new ulong[checked((capacity * BitsPerKey + 63) / 64)];
        _bits = (ulong)_words.LongLength * 64;
    }

    /// <summary>The distinct keys it holds at its designed false-positive rate.</summary>
    public long Capacity { get; }

    public void Add(ulong hash)
    {
        var (at, step) = Start(hash);
        for (var i = 0; i < Probes; i++, at += step)
        {
            var bit = at % _bits;
            Interlocked.Or(ref _words[bit >> 6], 1UL << (int)(bit & 63));
        }
    }

    public bool MayContain(ulong hash)
    {
        var (at, step) = Start(hash);
        for (var i = 0; i < Probes; i++, at += step)
        {
            var bit = at % _bits;
            if ((Volatile.Read(ref _words[bit >> 6]) & (1UL << (int)(bit & 63))) == 0)
                return false;
        }
        return true;
    }

    // Double hashing (Kirsch and Mitzenmacher): probe i is h1 + i * h2; an odd step visits distinct bits.
    private static (ulong At, ulong Step) Start(ulong hash) => (hash >> 32, (hash & 0xFFFF_FFFF) | 1);
}
