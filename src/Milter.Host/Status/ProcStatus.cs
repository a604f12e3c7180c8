using System.Globalization;

namespace MilterHost.Status;

/// <summary>
/// The lines of <c>/proc/self/status</c> the daemon reports about itself (<c>/metrics</c>, the status
/// page, the quiet collection's log line); null where the kernel gave none.
/// </summary>
internal readonly record struct ProcStatus(long? ResidentKb, long? ResidentPeakKb, long? VirtualKb, int? Threads)
{
    public static ProcStatus Read()
    {
        string text;
        try
        {
            text = File.ReadAllText("/proc/self/status");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return default;
        }
        return Parse(text);
    }

    public static ProcStatus Parse(string text)
    {
        long? rss = null, hwm = null, size = null;
        int? threads = null;
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            var colon = line.IndexOf(':');
            if (colon < 0)
                continue;
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim();
            if (value.EndsWith(" kB", StringComparison.Ordinal))
                value = value[..^3];
            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                continue;
            switch (name)
            {
                case "VmRSS": rss = number; break;
                case "VmHWM": hwm = number; break;
                case "VmSize": size = number; break;
                case "Threads": threads = (int)number; break;
            }
        }
        return new ProcStatus(rss, hwm, size, threads);
    }
}
