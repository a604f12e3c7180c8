using System.Globalization;
using MilterHost.Status;

namespace MilterHost.Tests.Status;

/// <summary>
/// The process and GC series of <c>/metrics</c>, read from this test process itself: they must
/// agree with what the kernel says about it and move with what the test does. Serial: a test beside
/// them that closes its sockets between two scrapes (one CI run saw 19 descriptors closed in 81 ms)
/// would hide the files these tests open.
/// </summary>
[Collection(nameof(ProcessMetricsTests))]
[CollectionDefinition(nameof(ProcessMetricsTests), DisableParallelization = true)]
public sealed class ProcessMetricsTests
{
    [Fact]
    public async Task Resident_memory_descriptors_and_limit_agree_with_the_kernel()
    {
        using var opened = new DisposableFiles(32);
        // The kernel's count on both sides of the scrape: the runtime and what earlier tests left
        // (a pool's sockets, a finished host's files) may open or close descriptors meanwhile.
        var fdsBefore = Directory.GetFileSystemEntries("/proc/self/fd").Length;
        var after = await ScrapeAsync();
        var fdsAfter = Directory.GetFileSystemEntries("/proc/self/fd").Length;
        var kernel = ProcStatus.Read();

        var resident = Value(after, "process_resident_memory_bytes");
        Assert.InRange(resident, kernel.ResidentKb!.Value * 1024 * 0.8, kernel.ResidentKb.Value * 1024 * 1.25);
        Assert.InRange(Value(after, "milterhost_resident_memory_peak_bytes"), resident, double.MaxValue);
        Assert.InRange(Value(after, "process_virtual_memory_bytes"), resident, double.MaxValue);
        Assert.True(Value(after, "process_num_threads") >= 2);
        // The scrape itself holds a descriptor or two (the listing of /proc/self/fd, the connection).
        Assert.InRange(Value(after, "process_open_fds"), Math.Min(fdsBefore, fdsAfter) - 3, Math.Max(fdsBefore, fdsAfter) + 3);
        Assert.True(fdsBefore >= 32);
        var limit = File.ReadLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal))["Max open files".Length..]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        Assert.Equal(double.Parse(limit, CultureInfo.InvariantCulture), Value(after, "process_max_fds"));
        var started = Value(after, "process_start_time_seconds");
        Assert.InRange(started, DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task Gc_series_move_with_a_collection_and_an_allocation()
    {
        var before = await ScrapeAsync();
        var block = new byte[4 << 20];
        GC.KeepAlive(block);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        var burned = 0L;
        for (var i = 0; i < 2_000_000; i++)
            burned += i ^ (burned >> 3);
        GC.KeepAlive(burned);
        var after = await ScrapeAsync();

        Assert.True(Value(after, "dotnet_gc_collections_total{gc_heap_generation=\"gen2\"}") >= Value(before, "dotnet_gc_collections_total{gc_heap_generation=\"gen2\"}") + 1);
        Assert.True(Value(after, "dotnet_gc_heap_total_allocated_bytes_total") >= Value(before, "dotnet_gc_heap_total_allocated_bytes_total") + (4 << 20));
        Assert.True(Value(after, "dotnet_gc_pause_time_seconds_total") > 0);
        Assert.True(Value(after, "process_cpu_seconds_total") > Value(before, "process_cpu_seconds_total"));
        var heap = new[] { "gen0", "gen1", "gen2", "loh", "poh" }.Sum(g => Value(after, $"dotnet_gc_last_collection_heap_size_bytes{{gc_heap_generation=\"{g}\"}}"));
        Assert.InRange(heap, 1, Value(after, "dotnet_gc_last_collection_memory_committed_size_bytes"));
    }

    [Fact]
    public void Status_lines_are_read_by_name_in_kilobytes()
    {
        var status = ProcStatus.Parse("Name:\tmilterhost\nVmPeak:\t  999999 kB\nVmSize:\t  300000 kB\nVmHWM:\t   84600 kB\nVmRSS:\t   45012 kB\nThreads:\t17\nSigQ:\t0/95311\n");

        Assert.Equal(new ProcStatus(45012, 84600, 300000, 17), status);
        Assert.Equal(default, ProcStatus.Parse("garbage\nVmRSS: lots\n"));
    }

    private static async Task<string> ScrapeAsync()
    {
        var metrics = new DaemonMetrics("t");
        using var output = new MemoryStream();
        await metrics.WriteAsync(output, CancellationToken.None);
        return System.Text.Encoding.UTF8.GetString(output.ToArray());
    }

    private static double Value(string metrics, string series)
    {
        var line = metrics.Split('\n').SingleOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no {series} in\n{metrics}");
        return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }

    private sealed class DisposableFiles : IDisposable
    {
        private readonly List<FileStream> _files = [];

        public DisposableFiles(int count)
        {
            for (var i = 0; i < count; i++)
                _files.Add(new FileStream("/proc/self/status", FileMode.Open, FileAccess.Read));
        }

        public void Dispose()
        {
            foreach (var file in _files)
                file.Dispose();
        }
    }
}
