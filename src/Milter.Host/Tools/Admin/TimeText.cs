using System.Globalization;

namespace MilterHost.Tools.Admin;

/// <summary>Times in the admin tables: the clock's local zone, to the second.</summary>
internal static class TimeText
{
    public static string Format(DateTimeOffset time, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTime(time, zone).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Format(DateTimeOffset? time, TimeZoneInfo zone, string absent) =>
        time is { } t ? Format(t, zone) : absent;
}
