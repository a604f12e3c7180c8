using Milter.Filters.Stores;

namespace Milter.Filters.Tests.Stores;

public sealed class KeyBloomTests
{
    // Hashes as spread as the key filter's: a 64-bit mix of a counter.
    private static ulong Key(long i)
    {
        var x = (ulong)i * 0x9E3779B97F4A7C15UL;
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9UL;
        return x ^ (x >> 29);
    }

    [Fact]
    public void Every_key_added_is_found_and_about_one_in_a_hundred_of_the_others_at_capacity()
    {
        var bloom = new KeyBloom(20_000);
        for (var i = 0; i < 20_000; i++)
            bloom.Add(Key(i));

        var missing = Enumerable.Range(0, 20_000).Count(i => !bloom.MayContain(Key(i)));
        var falsePositives = Enumerable.Range(1_000_000, 20_000).Count(i => bloom.MayContain(Key(i)));

        Assert.Equal(0, missing);
        // 10 bits and 7 probes per key: 0.8 % expected.
        Assert.InRange(falsePositives, 40, 400);
    }

    [Fact]
    public void An_empty_filter_contains_nothing()
    {
        var bloom = new KeyBloom(1);

        Assert.False(bloom.MayContain(Key(1)));
        Assert.False(bloom.MayContain(0));
    }

    [Fact]
    public async Task Keys_added_from_many_threads_at_once_are_all_found()
    {
        var bloom = new KeyBloom(40_000);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = t; i < 40_000; i += 8)
                bloom.Add(Key(i));
        })));

        Assert.Equal(0, Enumerable.Range(0, 40_000).Count(i => !bloom.MayContain(Key(i))));
    }
}
