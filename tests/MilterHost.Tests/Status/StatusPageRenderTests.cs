using Milter.Filters.Stats;
using MilterHost.Status;

namespace MilterHost.Tests.Status;

public sealed class StatusPageRenderTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 9, 30, 0, TimeSpan.Zero);

    private static StatusPageModel Model(IReadOnlyList<HourlyCount> hourly, IReadOnlyList<RecentDecision> recent) => new(
        "mx<1>", "1.0", Now, 1, 0, new ProcStatus(ResidentKb: 52470, ResidentPeakKb: 86999, VirtualKb: 300000, Threads: 17),
        new StatsReport(Now.AddHours(-24), Now, [], new GreylistFunnel(0, 0, 0, 0, 0, null), 0, 0, 0, 0, 0, [], []),
        Now.AddHours(-47).AddMinutes(-30), hourly, recent);

    [Fact]
    public void Text_from_the_wire_is_escaped()
    {
        var page = StatusPage.Render(Model([], [new RecentDecision(Now, "reject", "enforce", "rcpt", "ban", "ban#1", "evil [192.0.2.1]", "<script>alert(1)</script>@x", "a&b@example.com")]));

        Assert.Contains("<title>milterhost on mx&lt;1&gt;</title>", page, StringComparison.Ordinal);
        Assert.Contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;@x</td><td>a&amp;b@example.com</td>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", page, StringComparison.Ordinal);
    }

    [Fact]
    public void The_daemons_resident_memory_and_its_peak_are_in_the_meta_line()
    {
        Assert.Contains("""connections open <span id="connections-open">0</span> · memory <span id="memory-resident">51.2</span> MB (peak <span id="memory-peak">85.0</span> MB) · updated""",
            StatusPage.Render(Model([], [])), StringComparison.Ordinal);
        Assert.Contains(" · memory unknown · ", StatusPage.Render(Model([], []) with { Process = default }), StringComparison.Ordinal);
    }

    [Fact]
    public void Hourly_bars_stack_by_verdict_on_a_round_axis()
    {
        var hour = Now.AddMinutes(-30);
        var page = StatusPage.Render(Model([new HourlyCount(hour, "accept", 30), new HourlyCount(hour, "reject", 7), new HourlyCount(hour.AddHours(-1), "skip", 1)], []));

        Assert.Contains("<g data-hour=\"2026-03-02T09\" data-total=\"37\">", page, StringComparison.Ordinal);
        Assert.Contains("<g data-hour=\"2026-03-02T08\" data-total=\"1\">", page, StringComparison.Ordinal);
        Assert.Contains("data-verdict=\"other\" data-count=\"1\"", page, StringComparison.Ordinal);
        // 37 at most: four steps of 10 up to 40.
        Assert.Equal(["0", "10", "20", "30", "40"], System.Text.RegularExpressions.Regex.Matches(page, "class=\"axis\" text-anchor=\"end\">(\\d+)<").Select(m => m.Groups[1].Value));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(10, 10)]
    [InlineData(11, 20)]
    [InlineData(2001, 5000)]
    public void Nice_ceiling_is_one_two_or_five_times_a_power_of_ten(long n, long expected) =>
        Assert.Equal(expected, StatusPage.NiceCeiling(n));
}
