using System.Globalization;

namespace Milter.TestSupport;

/// <summary>One reading of a process's resident memory and open descriptors, from /proc.</summary>
public sealed record ProcessSample(long RssKiB, int OpenFds)
{
    public double RssMiB => RssKiB / 1024.0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"RSS {RssMiB:0.0} MiB, {OpenFds} fds");
}

/// <summary>Reads <c>/proc/PID/status</c> (VmRSS) and counts <c>/proc/PID/fd</c>.</summary>
public static class ProcessStats
{
    public static ProcessSample Sample(int pid)
    {
        long rss = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal))
                continue;
            rss = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            break;
        }
        return new ProcessSample(rss, Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length);
    }

    /// <summary>
    /// Samples until the RSS is at most <paramref name="ceilingKiB"/> or <paramref name="timeout"/>
    /// passes; returns the last sample. The runtime gives freed memory back to the kernel lazily.
    /// </summary>
    public static async Task<ProcessSample> SettleAsync(int pid, long ceilingKiB, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        var sample = Sample(pid);
        while (sample.RssKiB > ceilingKiB && DateTime.UtcNow < until)
        {
            await Task.Delay(250).ConfigureAwait(false);
            sample = Sample(pid);
        }
        return sample;
    }
}
