using System.Globalization;

namespace Milter.TestSupport;

/// <summary>
/// One reading of a process's resident memory, its high-water mark and open descriptors, from /proc.
/// The descriptors do not count the code files the runtime has loaded (.dll, .so): the JIT build
/// opens an assembly (two descriptors) the first time a code path needs it and keeps it, which is no leak.
/// </summary>
public sealed record ProcessSample(long RssKiB, long PeakRssKiB, int OpenFds)
{
    public double RssMiB => RssKiB / 1024.0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"RSS {RssMiB:0.0} MiB, {OpenFds} fds");
}

/// <summary>Reads <c>/proc/PID/status</c> (VmRSS, VmHWM) and counts <c>/proc/PID/fd</c>.</summary>
public static class ProcessStats
{
    public static ProcessSample Sample(int pid)
    {
        long rss = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                rss = Kilobytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                peak = Kilobytes(line);
        }
        var fds = 0;
        foreach (var fd in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }
            if (target is null || !(target.EndsWith(".dll", StringComparison.Ordinal) || target.EndsWith(".so", StringComparison.Ordinal)))
                fds++;
        }
        return new ProcessSample(rss, peak, fds);
    }

    private static long Kilobytes(string line) => long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);

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
