using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Milter.Filters.Configuration;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;

namespace Milter.Load;

/// <summary>
/// <c>milter-load store-bench --db PATH --rows N [--lookups L] [--sweep-batch B] [--json]</c>: the SQLite greylist
/// store of milterhost on a pre-filled database (<see cref="PrefillCommand"/>, rows 0..N-1), with
/// its memory cache made useless (capacity 2) so every call reaches SQLite:
/// <list type="bullet">
/// <item>lookup: <c>PreviewAsync</c> of a random known triplet (what a check reads, on a read connection);</item>
/// <item>check: <c>CheckAsync</c> of a random known triplet (the read, the answer, its new lifetime queued for the flush);</item>
/// <item>during sweep: checks of random known triplets in a loop (what a session calls: a read, the answer, the
/// lifetime extension queued) while <see cref="GreylistSweeper.SweepOnceAsync"/> deletes the expired rows:
/// the longest a session waits behind the sweep.</item>
/// </list>
/// </summary>
public static class StoreBenchCommand
{
    public static async Task<int> ExecuteAsync(Arguments args, CancellationToken ct)
    {
        var path = Path.GetFullPath(args.Required("--db"));
        var rows = args.Number("--rows", 1_000_000);
        var lookups = (int)args.Number("--lookups", 20_000);
        var sweepBatch = (int)Math.Max(1, args.Number("--sweep-batch", new GreylistSweeper([], TimeProvider.System, NullLogger<GreylistSweeper>.Instance).BatchSize));
        var json = args.Flag("--json");
        args.EnsureAllUsed();

        var time = TimeProvider.System;
        var options = new GreylistOptions();
        var stores = await StoreFactory.OpenAsync("sqlite:" + path, time, NullLoggerFactory.Instance,
            new StoreOptions { CacheCapacity = 2 }, ct).ConfigureAwait(false);
        await using (stores.ConfigureAwait(false))
        {
            var store = stores.Greylist;
            var random = new Random(7);
            long Pick() => random.NextInt64(rows);

            Task<GreylistResult> Preview(long x) => store.Check.PreviewAsync(BulkTriplets.Key(x), BulkTriplets.Client(x), time.GetUtcNow(), options, ct);
            Task<GreylistResult> Check(long x) => store.Check.CheckAsync(BulkTriplets.Key(x), BulkTriplets.Client(x), time.GetUtcNow(), options, ct);

            // Warm the page cache a little, as a running daemon's would be.
            await MeasureAsync(Preview, Pick, time, n => n < lookups / 10).ConfigureAwait(false);
            var lookup = await MeasureAsync(Preview, Pick, time, n => n < lookups).ConfigureAwait(false);
            var check = await MeasureAsync(Check, Pick, time, n => n < Math.Max(1, lookups / 10)).ConfigureAwait(false);

            // As the daemon's sweeper does, the lifetime extensions queued so far are written before the sweep.
            await store.FlushAsync(ct).ConfigureAwait(false);
            var sweeper = new GreylistSweeper(stores.Expiring, time, NullLogger<GreylistSweeper>.Instance) { BatchSize = sweepBatch };
            var sweepStart = time.GetTimestamp();
            var sweep = sweeper.SweepOnceAsync(ct);
            var during = await MeasureAsync(Check, Pick, time, _ => !sweep.IsCompleted).ConfigureAwait(false);
            var swept = await sweep.ConfigureAwait(false);
            var sweepSeconds = time.GetElapsedTime(sweepStart).TotalSeconds;

            // The control: as many seconds of the same checks with no sweep running, from the same start (nothing queued).
            await store.FlushAsync(ct).ConfigureAwait(false);
            var controlStart = time.GetTimestamp();
            var control = await MeasureAsync(Check, Pick, time, _ => time.GetElapsedTime(controlStart).TotalSeconds < sweepSeconds).ConfigureAwait(false);

            var report = new StoreBenchReport(path, rows, Summarise(lookup), Summarise(check),
                new SweepReport(swept, sweepBatch, sweepSeconds, Summarise(during), during.Count, during.Count(ms => ms > 5)),
                new ChecksReport(Summarise(control), control.Count, control.Count(ms => ms > 5)));
            Console.WriteLine(json ? Json.Write(report) : report.ToText());
        }
        return 0;
    }

    /// <summary>Calls on random known triplets while <paramref name="more"/> (given the calls made so far) says so; each call's milliseconds.</summary>
    private static async Task<List<double>> MeasureAsync(Func<long, Task<GreylistResult>> call, Func<long> pick, TimeProvider time, Func<int, bool> more)
    {
        var ms = new List<double>();
        while (more(ms.Count))
        {
            var x = pick();
            var t = time.GetTimestamp();
            var result = await call(x).ConfigureAwait(false);
            ms.Add(time.GetElapsedTime(t).TotalMilliseconds);
            if (!result.Passes)
                throw new InvalidOperationException($"pre-filled triplet {x} did not pass ({result.Rule}): was the database filled with --count >= --rows?");
        }
        return ms;
    }

    private static Latency Summarise(List<double> ms)
    {
        if (ms.Count == 0)
            return new Latency(0, 0, 0, 0);
        ms.Sort();
        double At(double q) => ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(q * ms.Count) - 1)];
        return new Latency(At(0.5), At(0.9), At(0.99), ms[^1]);
    }
}

/// <summary>The sweep: rows deleted, how long it ran, and the lookups that ran meanwhile.</summary>
/// <param name="Checks">Checks made while the sweep ran.</param>
/// <param name="Over5Ms">Of those, how many took more than 5 ms.</param>
public sealed record SweepReport(int Deleted, int BatchSize, double Seconds, Latency LookupsDuringMs, int Checks, int Over5Ms);

/// <summary>Checks with no sweep running, for as long as the sweep took: what the machine and the runtime (GC pauses) cost alone.</summary>
public sealed record ChecksReport(Latency Ms, int Checks, int Over5Ms);

public sealed record StoreBenchReport(string Path, long Rows, Latency LookupMs, Latency CheckMs, SweepReport Sweep, ChecksReport NoSweep)
{
    public string ToText() => string.Create(CultureInfo.InvariantCulture,
        $"""
        {Path}: {Rows} known triplets, memory cache off
        lookup (read) ms: p50 {LookupMs.P50:F3}  p90 {LookupMs.P90:F3}  p99 {LookupMs.P99:F3}  max {LookupMs.Max:F3}
        check (read, lifetime extension queued) ms: p50 {CheckMs.P50:F3}  p90 {CheckMs.P90:F3}  p99 {CheckMs.P99:F3}  max {CheckMs.Max:F3}
        sweep: {Sweep.Deleted} expired rows in batches of at most {Sweep.BatchSize}, {Sweep.Seconds:F2} s; checks meanwhile ms: p50 {Sweep.LookupsDuringMs.P50:F3}  p99 {Sweep.LookupsDuringMs.P99:F3}  max {Sweep.LookupsDuringMs.Max:F3}; {Sweep.Over5Ms} of {Sweep.Checks} checks over 5 ms
        no sweep, as long: checks ms: p50 {NoSweep.Ms.P50:F3}  p99 {NoSweep.Ms.P99:F3}  max {NoSweep.Ms.Max:F3}; {NoSweep.Over5Ms} of {NoSweep.Checks} checks over 5 ms
        """);
}
