using Milter.Filters.Stats;

namespace Milter.Filters.Tests.Stats;

public sealed class MedianTests
{
    [Fact]
    public void Median_of_an_odd_count_is_the_middle_value() =>
        Assert.Equal(20, DecisionTally.Median([(10, 1), (20, 2), (40, 2)]));

    [Fact]
    public void Median_of_an_even_count_is_the_mean_of_the_two_middle_values() =>
        Assert.Equal(30, DecisionTally.Median([(10, 1), (20, 1), (40, 1), (90, 1)]));

    [Fact]
    public void Median_of_nothing_is_null() => Assert.Null(DecisionTally.Median([]));

    [Fact]
    public void Minute_is_the_start_of_the_minute_in_unix_seconds() =>
        Assert.Equal(1_772_442_060L, DecisionTally.MinuteOf(new DateTimeOffset(2026, 3, 2, 9, 1, 59, TimeSpan.Zero)));
}
