using Milter.Filters.Stores;

namespace Milter.Filters.Tests.Greylist;

public class BoundedCacheTests
{
    [Fact]
    public void Never_holds_more_than_its_capacity()
    {
        var cache = new BoundedCache<int, int>(100);

        for (var i = 0; i < 10_000; i++)
            cache.Set(i, i);

        Assert.InRange(cache.Count, 1, 100);
        Assert.True(cache.TryGet(9_999, out var last));
        Assert.Equal(9_999, last);
        Assert.False(cache.TryGet(0, out _));
    }

    [Fact]
    public void With_a_weight_never_holds_more_than_its_weight_and_one_value()
    {
        // The DNS cache's case: few answers, but each of them as big as a zone's owner likes.
        var cache = new BoundedCache<int, string>(20_000, 10_000, v => v.Length);

        for (var i = 0; i < 1_000; i++)
            cache.Set(i, new string('x', 1_000 + i % 1_000));

        Assert.InRange(cache.Values.Sum(v => v.Length), 1, 10_000 + 2_000);
        Assert.True(cache.TryGet(999, out _));
        // Light values are held by count alone, as before.
        var light = new BoundedCache<int, string>(100, 10_000, v => v.Length);
        for (var i = 0; i < 100; i++)
            light.Set(i, "x");
        Assert.InRange(light.Count, 50, 100);
    }

    [Fact]
    public void Every_value_eviction_drops_is_handed_over_once()
    {
        var dropped = new List<int>();
        var cache = new BoundedCache<int, int>(10, dropped.Add);

        for (var i = 0; i < 100; i++)
            cache.Set(i, i);

        Assert.Equal(100, dropped.Count + cache.Count);
        Assert.Equal(dropped.Count, dropped.Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 100), dropped.Concat(cache.Values).Order());
    }

    [Fact]
    public void Entry_read_recently_survives_eviction()
    {
        var cache = new BoundedCache<int, string>(10);
        cache.Set(-1, "hot");

        for (var i = 0; i < 100; i++)
        {
            cache.Set(i, "cold");
            Assert.True(cache.TryGet(-1, out _));
        }

        Assert.True(cache.TryGet(-1, out var value));
        Assert.Equal("hot", value);
    }

    [Fact]
    public void Remove_where_drops_matching_entries_of_both_generations()
    {
        var cache = new BoundedCache<(string Client, int N), int>(8);
        for (var i = 0; i < 6; i++)
            cache.Set((i % 2 == 0 ? "a" : "b", i), i);

        cache.RemoveWhere(k => k.Client == "a");

        Assert.False(cache.TryGet(("a", 0), out _));
        Assert.False(cache.TryGet(("a", 4), out _));
        Assert.True(cache.TryGet(("b", 5), out _));
    }
}
