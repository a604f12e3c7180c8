using System.Globalization;

namespace MilterHost.Configuration;

/// <summary>
/// Durations as a postmaster writes them: a number and a unit, <c>500ms</c>, <c>90s</c>, <c>2m</c>,
/// <c>4h</c>, <c>36d</c>, or several in a row (<c>1h30m</c>). No sign, no fractions, no bare
/// numbers: <c>120</c> could mean seconds or minutes, so it is refused rather than guessed.
/// Also for command-line options such as <c>--since 24h</c>.
/// </summary>
public static class Duration
{
    private static readonly (string Unit, TimeSpan Size)[] Units =
    [
        ("d", TimeSpan.FromDays(1)),
        ("h", TimeSpan.FromHours(1)),
        ("m", TimeSpan.FromMinutes(1)),
        ("s", TimeSpan.FromSeconds(1)),
        ("ms", TimeSpan.FromMilliseconds(1)),
    ];

    private static readonly TimeSpan MaxDuration = TimeSpan.FromDays(3650);

    /// <summary>The hint printed with every duration error.</summary>
    public const string Syntax = "write a number and a unit (ms, s, m, h, d), e.g. 90s, 2m, 4h, 36d";

    public static bool TryParse(string text, out TimeSpan value, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        value = TimeSpan.Zero;
        error = null;
        var s = text.Trim();
        if (s.StartsWith('-'))
        {
            error = $"'{text}': a duration cannot be negative";
            return false;
        }
        if (s.Length == 0 || !char.IsAsciiDigit(s[0]))
            return Fail(text, out error);
        var total = TimeSpan.Zero;
        var i = 0;
        while (i < s.Length)
        {
            var digits = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
                i++;
            var letters = i;
            while (i < s.Length && char.IsAsciiLetter(s[i]))
                i++;
            if (digits == letters)
                return Fail(text, out error);
            var unit = s[letters..i];
            if (unit.Length == 0 && i < s.Length)
                return Fail(text, out error);
            if (unit.Length == 0)
            {
                error = $"'{text}' has no unit; {Syntax}";
                return false;
            }
            var size = Array.Find(Units, u => u.Unit == unit).Size;
            if (size == TimeSpan.Zero)
            {
                error = $"'{text}' has an unknown unit '{unit}'; {Syntax}";
                return false;
            }
            // Ten years bounds every setting we have and keeps the sum far from TimeSpan overflow.
            if (!long.TryParse(s.AsSpan(digits, letters - digits), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
                || count > MaxDuration.Ticks / size.Ticks)
                return TooLong(text, out error);
            total += TimeSpan.FromTicks(count * size.Ticks);
            if (total > MaxDuration)
                return TooLong(text, out error);
        }
        value = total;
        return true;
    }

    /// <summary>The shortest exact spelling: 90s stays <c>90s</c>, 120s becomes <c>2m</c>, 5400s <c>90m</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(value), value, "a duration cannot be negative");
        if (value == TimeSpan.Zero)
            return "0s";
        foreach (var (unit, size) in Units)
        {
            if (value.Ticks % size.Ticks == 0)
                return (value.Ticks / size.Ticks).ToString(CultureInfo.InvariantCulture) + unit;
        }
        // Sub-millisecond values cannot come from a config file; round rather than invent a unit.
        return ((long)Math.Round(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";
    }

    private static bool TooLong(string text, out string error)
    {
        error = $"'{text}' is longer than ten years";
        return false;
    }

    private static bool Fail(string text, out string error)
    {
        error = $"'{text}' is not a duration; {Syntax}";
        return false;
    }
}
