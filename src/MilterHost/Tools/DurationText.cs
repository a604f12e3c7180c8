using System.Globalization;
using System.Text;

namespace MilterHost.Tools;

/// <summary>
/// Durations as the config and the admin commands write them: <c>90s</c>, <c>2m</c>, <c>4h</c>,
/// <c>36d</c>, <c>1w</c>, and sums such as <c>1d12h</c>.
/// </summary>
internal static class DurationText
{
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        var span = text.AsSpan().Trim();
        var total = TimeSpan.Zero;
        while (!span.IsEmpty)
        {
            var digits = 0;
            while (digits < span.Length && char.IsAsciiDigit(span[digits]))
                digits++;
            if (digits == 0 || digits == span.Length || digits > 9)
                return false;
            var value = long.Parse(span[..digits], NumberStyles.None, CultureInfo.InvariantCulture);
            var unit = span[digits] switch
            {
                's' => TimeSpan.FromSeconds(1),
                'm' => TimeSpan.FromMinutes(1),
                'h' => TimeSpan.FromHours(1),
                'd' => TimeSpan.FromDays(1),
                'w' => TimeSpan.FromDays(7),
                _ => TimeSpan.Zero,
            };
            if (unit == TimeSpan.Zero)
                return false;
            total += unit * value;
            span = span[(digits + 1)..];
        }
        duration = total;
        return total > TimeSpan.Zero;
    }

    /// <summary>The shortest sum of whole units (<c>7d</c>, <c>1d12h</c>); nft's timeout syntax reads it as is.</summary>
    public static string Format(TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
            return "0s";
        var text = new StringBuilder();
        Append(text, duration.Days, 'd');
        Append(text, duration.Hours, 'h');
        Append(text, duration.Minutes, 'm');
        Append(text, duration.Seconds, 's');
        return text.Length == 0 ? "1s" : text.ToString();

        static void Append(StringBuilder text, int value, char unit)
        {
            if (value > 0)
                text.Append(value.ToString(CultureInfo.InvariantCulture)).Append(unit);
        }
    }
}
