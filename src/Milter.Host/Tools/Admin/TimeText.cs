using System.Globalization;

namespace MilterHost.Tools.Admin;

/// <summary>Times in the admin tables (as ls -l writes them) and sentences: the clock's local zone, to the second.</summary>
internal static class TimeText
{
    public static string Format(DateTimeOffset time, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTime(time, zone).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>A time in a sentence ("Banned ... until ..."): with its UTC offset, since nothing around it says the zone.</summary>
    public static string FormatWithOffset(DateTimeOffset time, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTime(time, zone).ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture);

    public static string Format(DateTimeOffset? time, TimeZoneInfo zone, string absent) =>
        time is { } t ? Format(t, zone) : absent;
}
