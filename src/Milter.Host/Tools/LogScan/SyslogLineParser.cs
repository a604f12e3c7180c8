using System.Globalization;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// Reads the two timestamp formats a maillog comes in: classic BSD syslog (<c>Nov 28 06:25:01</c>, no
/// year, local time) and RFC 3339 (<c>2026-11-28T06:25:01.123456+00:00</c>, rsyslog's high-precision
/// format). The classic format's year is inferred from "now": a line that would lie more than a day in
/// the future belongs to the year before, so a December line read in January lands in last year.
/// </summary>
internal sealed class SyslogLineParser
{
    // Clocks of the logging host and of this run may differ a little; beyond a day it is last year's line.
    private static readonly TimeSpan FutureSlack = TimeSpan.FromDays(1);

    private static readonly string[] Months =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    private readonly TimeZoneInfo _zone;
    private readonly DateTime _nowLocal;

    /// <param name="now">The moment of the scan (from the TimeProvider).</param>
    /// <param name="zone">The zone classic timestamps were written in: the logging host's local zone.</param>
    public SyslogLineParser(DateTimeOffset now, TimeZoneInfo zone)
    {
        _zone = zone;
        _nowLocal = TimeZoneInfo.ConvertTime(now, zone).DateTime;
    }

    public bool TryParse(string line, out SyslogLine parsed)
    {
        parsed = default;
        var rest = line.AsSpan();
        DateTimeOffset timestamp;
        if (rest.Length > 0 && char.IsAsciiDigit(rest[0]))
        {
            var space = rest.IndexOf(' ');
            if (space < 0 || !DateTimeOffset.TryParse(rest[..space], CultureInfo.InvariantCulture,
                    DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.AssumeUniversal, out timestamp))
                return false;
            rest = rest[(space + 1)..];
        }
        else if (!TryParseClassic(ref rest, out timestamp))
        {
            return false;
        }

        rest = rest.TrimStart(' ');
        var hostEnd = rest.IndexOf(' ');
        if (hostEnd <= 0)
            return false;
        var host = rest[..hostEnd].ToString();
        rest = rest[(hostEnd + 1)..];

        // PROGRAM[PID]: or PROGRAM:
        var colon = rest.IndexOf(": ");
        if (colon <= 0)
            return false;
        var tag = rest[..colon];
        if (tag.Contains(' '))
            return false;
        int? pid = null;
        var program = tag;
        var bracket = tag.IndexOf('[');
        if (bracket >= 0)
        {
            if (bracket == 0 || tag[^1] != ']'
                || !int.TryParse(tag[(bracket + 1)..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                return false;
            pid = number;
            program = tag[..bracket];
        }
        parsed = new SyslogLine(timestamp, host, program.ToString(), pid, rest[(colon + 2)..].ToString());
        return true;
    }

    private bool TryParseClassic(ref ReadOnlySpan<char> rest, out DateTimeOffset timestamp)
    {
        timestamp = default;
        // "Nov 28 06:25:01 " or "Nov  3 06:25:01 "
        if (rest.Length < 16)
            return false;
        var monthText = rest[..3];
        var month = 0;
        for (var i = 0; i < Months.Length && month == 0; i++)
        {
            if (monthText.Equals(Months[i], StringComparison.Ordinal))
                month = i + 1;
        }
        if (month == 0 || rest[3] != ' ')
            return false;
        var dayText = rest.Slice(4, 2).TrimStart(' ');
        if (!int.TryParse(dayText, NumberStyles.None, CultureInfo.InvariantCulture, out var day) || rest[6] != ' ')
            return false;
        if (!TimeOnly.TryParseExact(rest.Slice(7, 8), "HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
            || rest[15] != ' ')
            return false;
        rest = rest[16..];

        // Walk back from this year: last year for a line "in the future", and back to a leap year for Feb 29.
        for (var year = _nowLocal.Year; year >= _nowLocal.Year - 8; year--)
        {
            if (day > DateTime.DaysInMonth(year, month))
                continue;
            var local = new DateTime(year, month, day, time.Hour, time.Minute, time.Second, DateTimeKind.Unspecified);
            if (local > _nowLocal + FutureSlack)
                continue;
            timestamp = new DateTimeOffset(local, _zone.GetUtcOffset(local));
            return true;
        }
        return false;
    }
}
