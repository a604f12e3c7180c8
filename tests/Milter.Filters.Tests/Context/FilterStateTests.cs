using Milter.Filters.Context;

namespace Milter.Filters.Tests.Context;

public sealed class FilterStateTests
{
    [Fact]
    public void A_value_is_made_once_and_read_back_as_its_own_type()
    {
        var key = new StateKey<List<string>>("test.seen");
        var state = new FilterState();

        state.GetOrAdd(key, static () => []).Add("a");
        state.GetOrAdd(key, static () => ["never made"]).Add("b");

        Assert.True(state.TryGet(key, out var seen));
        Assert.Equal(["a", "b"], seen);
    }

    [Fact]
    public void Keys_of_the_same_name_are_different_keys()
    {
        var mine = new StateKey<string>("shared.name");
        var theirs = new StateKey<string>("shared.name");
        var state = new FilterState();

        state.Set(mine, "mine");

        Assert.False(state.TryGet(theirs, out _));
        Assert.False(state.Contains(theirs));
        Assert.True(state.Contains(mine));
    }

    [Fact]
    public void Clear_drops_every_value()
    {
        var key = new StateKey<int[]>("test.numbers");
        var state = new FilterState();
        state.Set(key, [1, 2]);

        state.Clear();

        Assert.False(state.TryGet(key, out _));
    }
}
