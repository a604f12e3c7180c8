using System.Diagnostics;
using System.Globalization;
using Prometheus;

namespace MilterHost.Status;

/// <summary>
/// The process and its garbage collector, read at each scrape: the <c>process_*</c> series under
/// the names every Prometheus client library gives them (so existing dashboards and alerts work),
/// the resident high-water mark (what a burst cost), and the GC's series under the names of .NET's
/// own runtime metrics (<c>dotnet.gc.*</c>) in Prometheus form. Resident memory that the GC's
/// committed bytes do not explain is native: the executable, SQLite's caches, thread stacks.
/// </summary>
internal sealed class ProcessMetrics
{
    private static readonly string[] Generations = ["gen0", "gen1", "gen2", "loh", "poh"];

    private readonly Gauge _resident;
    private readonly Gauge _residentPeak;
    private readonly Gauge _virtual;
    private readonly Gauge _threads;
    private readonly Gauge _openFds;
    private readonly Gauge _maxFds;
    private readonly Counter _cpu;
    private readonly Counter _collections;
    private readonly Counter _allocated;
    private readonly Counter _pause;
    private readonly Gauge _committed;
    private readonly Gauge _heapSize;

    public ProcessMetrics(MetricFactory f)
    {
        ArgumentNullException.ThrowIfNull(f);
        _resident = f.CreateGauge("process_resident_memory_bytes", "Resident memory size in bytes.");
        _residentPeak = f.CreateGauge("milterhost_resident_memory_peak_bytes", "The most resident memory the process has had since it started, in bytes (VmHWM).");
        _virtual = f.CreateGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
        _threads = f.CreateGauge("process_num_threads", "Threads of the process.");
        _openFds = f.CreateGauge("process_open_fds", "Open file descriptors: milter connections, the database, logs, listeners.");
        _maxFds = f.CreateGauge("process_max_fds", "The soft limit on open file descriptors (RLIMIT_NOFILE).");
        _cpu = f.CreateCounter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.");
        using (var self = Process.GetCurrentProcess())
        {
            f.CreateGauge("process_start_time_seconds", "When the process started, in seconds since the Unix epoch.")
                .Set(new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        }
        _collections = f.CreateCounter("dotnet_gc_collections_total", "Garbage collections since the process started, by the oldest generation collected.", ["gc_heap_generation"]);
        _allocated = f.CreateCounter("dotnet_gc_heap_total_allocated_bytes_total", "Bytes allocated on the managed heap since the process started.");
        _pause = f.CreateCounter("dotnet_gc_pause_time_seconds_total", "Time the garbage collector has paused the process, in seconds.");
        _committed = f.CreateGauge("dotnet_gc_last_collection_memory_committed_size_bytes", "Memory the garbage collector had committed at the end of the last collection, in bytes.");
        _heapSize = f.CreateGauge("dotnet_gc_last_collection_heap_size_bytes", "Managed heap size at the end of the last collection (live objects and fragmentation), by generation, in bytes.",
            ["gc_heap_generation"]);
    }

    /// <summary>Reads every series from the kernel and the runtime.</summary>
    public void Update()
    {
        var status = ProcStatus.Read();
        if (status.ResidentKb is { } rss)
            _resident.Set(rss * 1024.0);
        if (status.ResidentPeakKb is { } hwm)
            _residentPeak.Set(hwm * 1024.0);
        if (status.VirtualKb is { } size)
            _virtual.Set(size * 1024.0);
        if (status.Threads is { } threads)
            _threads.Set(threads);
        if (OpenDescriptors() is { } open)
            _openFds.Set(open);
        if (OpenFilesLimit() is { } limit)
            _maxFds.Set(limit);
        _cpu.IncTo(Environment.CpuUsage.TotalTime.TotalSeconds);

        for (var generation = 0; generation <= 2; generation++)
            _collections.WithLabels(Generations[generation]).IncTo(GC.CollectionCount(generation) - (generation < 2 ? GC.CollectionCount(generation + 1) : 0));
        _allocated.IncTo(GC.GetTotalAllocatedBytes());
        _pause.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
        var info = GC.GetGCMemoryInfo();
        _committed.Set(info.TotalCommittedBytes);
        var generations = info.GenerationInfo;
        for (var i = 0; i < Generations.Length && i < generations.Length; i++)
            _heapSize.WithLabels(Generations[i]).Set(generations[i].SizeAfterBytes);
    }

    private static int? OpenDescriptors()
    {
        try
        {
            // The enumeration's own descriptor is counted too, as every Prometheus client counts it.
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The soft limit of <c>Max open files</c> in <c>/proc/self/limits</c>; null when unlimited or unreadable.</summary>
    private static long? OpenFilesLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (!line.StartsWith("Max open files", StringComparison.Ordinal))
                    continue;
                var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }
}
