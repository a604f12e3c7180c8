using System.Globalization;

namespace Milter.Load;

/// <summary>Resident memory of a process from <c>/proc/PID/status</c>: now (VmRSS) and the peak since it started (VmHWM).</summary>
public sealed record ProcessMemory(long RssKb, long PeakRssKb)
{
    /// <summary>Null when the process is gone or the file cannot be read.</summary>
    public static ProcessMemory? Read(int pid)
    {
        try
        {
            long rss = 0, hwm = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    rss = Kb(line);
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    hwm = Kb(line);
            }
            return new ProcessMemory(rss, hwm);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>CPU time the process has used (user + system), from <c>/proc/PID/stat</c>; null when gone.</summary>
    public static TimeSpan? CpuTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name in parentheses may hold spaces: count fields after its closing parenthesis.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / (double)ClockTicksPerSecond);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// The whole machine's CPU time so far, busy and idle, in ticks, from the first line of <c>/proc/stat</c>
    /// (busy: user, nice, system, irq, softirq, steal; idle: idle, iowait); null where there is none.
    /// </summary>
    public static (long Busy, long Idle)? MachineTicks()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").First();
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7], f[3] + f[4]);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or InvalidOperationException)
        {
            return null;
        }
    }

    // USER_HZ: 100 on every Linux architecture .NET runs on.
    private const int ClockTicksPerSecond = 100;

    // "VmRSS:	   51234 kB"
    private static long Kb(string line) =>
        long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
}
