using MilterHost.Tools.LogScan;

namespace MilterHost.Tests.LogScan;

public sealed class SyslogLineParserTests
{
    private static readonly SyslogLineParser November = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero), TimeZoneInfo.Utc);

    [Fact]
    public void Classic_line_takes_this_year_and_splits_host_program_pid()
    {
        Assert.True(November.TryParse("Nov 28 06:25:01 mx1 sm-mta[1234]: s1P819mk027713: hello", out var line));

        Assert.Equal(new DateTimeOffset(2026, 11, 28, 6, 25, 1, TimeSpan.Zero), line.Timestamp);
        Assert.Equal("mx1", line.Host);
        Assert.Equal("sm-mta", line.Program);
        Assert.Equal(1234, line.Pid);
        Assert.Equal("s1P819mk027713: hello", line.Message);
    }

    [Fact]
    public void Classic_line_with_space_padded_day_parses()
    {
        Assert.True(November.TryParse("Nov  3 11:35:30 Microsoft sendmail[26254]: x", out var line));

        Assert.Equal(new DateTimeOffset(2026, 11, 3, 11, 35, 30, TimeSpan.Zero), line.Timestamp);
    }

    [Fact]
    public void Rfc3339_line_keeps_fraction_and_offset()
    {
        Assert.True(November.TryParse("2026-11-28T06:25:01.123456+01:00 mx1 sm-mta[1234]: x", out var line));

        Assert.Equal(new DateTimeOffset(2026, 11, 28, 6, 25, 1, TimeSpan.FromHours(1)).AddTicks(1234560), line.Timestamp);
        Assert.Equal(1234, line.Pid);
    }

    [Fact]
    public void December_line_read_in_january_belongs_to_last_year()
    {
        var january = new SyslogLineParser(new DateTimeOffset(2027, 1, 2, 10, 0, 0, TimeSpan.Zero), TimeZoneInfo.Utc);

        Assert.True(january.TryParse("Dec 31 23:59:58 mx1 sm-mta[1]: x", out var december));
        Assert.True(january.TryParse("Jan  2 09:00:00 mx1 sm-mta[1]: x", out var today));

        Assert.Equal(2026, december.Timestamp.Year);
        Assert.Equal(2027, today.Timestamp.Year);
    }

    [Fact]
    public void February_29_read_in_a_common_year_goes_back_to_the_leap_year()
    {
        var march2027 = new SyslogLineParser(new DateTimeOffset(2027, 3, 1, 0, 0, 0, TimeSpan.Zero), TimeZoneInfo.Utc);

        Assert.True(march2027.TryParse("Feb 29 10:00:00 mx1 sm-mta[1]: x", out var line));

        Assert.Equal(new DateTimeOffset(2024, 2, 29, 10, 0, 0, TimeSpan.Zero), line.Timestamp);
    }

    [Fact]
    public void Program_without_pid_parses()
    {
        Assert.True(November.TryParse("Nov 28 06:25:01 mx1 sendmail: x y", out var line));

        Assert.Null(line.Pid);
        Assert.Equal("sendmail", line.Program);
        Assert.Equal("x y", line.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("Foo 28 06:25:01 mx1 sm-mta[1]: x")]
    [InlineData("Nov 28 6:25:01 mx1 sm-mta[1]: x")]
    [InlineData("Nov 28 06:25:01 mx1")]
    [InlineData("Nov 28 06:25:01 mx1 sm-mta[12x]: x")]
    [InlineData("2026-13-45T99:00:00Z mx1 sm-mta[1]: x")]
    [InlineData("\u0001\u0002\u0003 \uFFFD\uFFFD")]
    public void Garbage_is_refused(string text)
    {
        Assert.False(November.TryParse(text, out _));
    }
}
