using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Milter.Protocol.Client;

namespace Milter.Load;

/// <summary>
/// <c>milter-load run --target unix:PATH|inet:PORT@HOST [--connections C] [--messages M] [--duration 5s]
/// [--mix new|passed|banned|unknown|blend] [--known-set N] [--warm | --warm-only] [--warm-delay 2.2s]
/// [--warmup 1s] [--churn] [--client threads|async] [--wait select|read] [--pid PID] [--label NAME] [--round N] [--json] [--latency-log FILE]</c>
/// <para>With <c>--warm</c> the known set is first sent twice, <c>--warm-delay</c> apart (longer
/// than the filter's greylist delay), so that every known triplet has been seen and then retried in
/// time; only then the measured run starts.</para>
/// <para>With <c>--churn</c> every session is one message with one recipient on a milter connection of
/// its own, ended as sendmail ends it (QUIT, the socket closed at once): the connection churn of
/// sendmail's one milter connection per SMTP transaction. A connection the filter refuses or closes
/// before answering OPTNEG counts as refused (sendmail would tempfail that message).</para>
/// <para>With <c>--client threads</c> (the default) each connection is a thread of its own on blocking
/// sockets, as each of sendmail's SMTP sessions is a process of its own: one session never waits for
/// another's. <c>--client async</c> plays them all on async sockets, which costs less CPU per message
/// but lets a fast filter's sessions take turns on the few socket-engine threads.</para>
/// <para>With <c>--wait select</c> (the default) a blocking connection polls its socket before each
/// read and write, as sendmail does with its milter timeouts set; <c>--wait read</c> blocks in the read
/// itself, which the kernel also wakes each time the filter drains the request (the generator before
/// 2026-12-06; see <see cref="BlockingConnection"/>).</para>
/// <para>With <c>--warmup</c> the same kind of traffic (new triplets of a nonce of its own) runs that
/// long unmeasured first, so that neither this process's JIT nor a cold filter is in the figures: a
/// load generator still running its first, unoptimised code is slower against a fast filter than a
/// slow one, and would compress their ratio.</para>
/// </summary>
public static class RunCommand
{
    public static async Task<int> ExecuteAsync(Arguments args, CancellationToken ct)
    {
        var targetText = args.Required("--target");
        var target = Arguments.ParseTarget(targetText);
        var connections = (int)Math.Max(1, args.Number("--connections", 8));
        var messages = args.Number("--messages", 10_000);
        var duration = args.Duration("--duration");
        var label = args.Text("--label") ?? "";
        var round = (int)args.Number("--round", 0);
        var mix = args.Choice("--mix", Mix.Blend);
        var knownSet = (int)Math.Max(1, args.Number("--known-set", 5_000));
        var warm = args.Flag("--warm");
        var warmOnly = args.Flag("--warm-only");
        var warmDelay = args.Duration("--warm-delay", TimeSpan.FromSeconds(2.2));
        var warmup = args.Duration("--warmup");
        var pid = (int)args.Number("--pid", 0);
        var json = args.Flag("--json");
        var latencyLog = args.Text("--latency-log");
        var churn = args.Flag("--churn");
        var client = args.Choice("--client", ClientModel.Threads);
        var wait = args.Choice("--wait", Wait.Select);
        var nonce = args.Text("--nonce") ?? Traffic.Letters((ulong)RandomNumberGenerator.GetInt32(int.MaxValue));
        args.EnsureAllUsed();

        var time = TimeProvider.System;
        var traffic = new Traffic(mix, knownSet, nonce, churn);
        var runner = new LoadRunner(target, time) { KeepTimes = latencyLog is not null, Threads = client == ClientModel.Threads, Wait = wait };
        var negotiated = await ProbeAsync(target, ct).ConfigureAwait(false);

        (TimeSpan? Daemon, TimeSpan Own, (long Busy, long Idle)? Machine) Cpu() =>
            (pid > 0 ? ProcessMemory.CpuTime(pid) : null, Environment.CpuUsage.TotalTime, ProcessMemory.MachineTicks());
        RunResult? warmResult = null;
        var cpuAtStart = Cpu();
        if (warm || warmOnly)
        {
            // Round one: every known triplet is new. Round two, after the delay: every one passes and is remembered.
            var set = traffic.KnownSet().ToArray();
            var count = set.Sum(s => (long)s.Messages.Length);
            await runner.RunAsync(n => set[n % set.Length], connections, count, ct).ConfigureAwait(false);
            await Task.Delay(warmDelay, time, ct).ConfigureAwait(false);
            // With --warm-only the figures reported are those of this second round.
            cpuAtStart = Cpu();
            warmResult = await runner.RunAsync(n => set[n % set.Length], connections, count, ct).ConfigureAwait(false);
        }

        if (!warmOnly && warmup is { } unmeasured)
            await runner.RunAsync(new Traffic(mix, knownSet, nonce + "w", churn).Session, connections, long.MaxValue, ct, unmeasured).ConfigureAwait(false);
        if (!warmOnly)
        {
            // What the warm-up left would otherwise set off a full collection of this process early in
            // the measured run: 40–50 ms in which none of its connections sends or reads anything.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            cpuAtStart = Cpu();
        }
        using var gcPauses = latencyLog is not null && !warmOnly ? new GcPauses() : null;
        var gcAtStart = GcCounts();
        var result = warmOnly
            ? warmResult!
            : await runner.RunAsync(traffic.Session, connections, messages, ct, duration).ConfigureAwait(false);
        var memory = pid > 0 ? ProcessMemory.Read(pid) : null;
        var cpuAtEnd = Cpu();
        var gcAtEnd = GcCounts();
        var pauses = gcPauses?.Pauses ?? [];
        // Written after the figures are taken: its CPU and its collections are not the run's.
        if (latencyLog is not null && !warmOnly)
            WriteLatencyLog(latencyLog, runner, time.TimestampFrequency, pauses);
        // The generator's own pauses hold up all its connections at once; on stderr, beside the report.
        var longest = pauses.Count == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $", the longest {pauses.Max(p => p.End - p.Start) * 1000.0 / time.TimestampFrequency:F1} ms");
        Console.Error.WriteLine($"load generator gc: gen0 {gcAtEnd.G0 - gcAtStart.G0}, gen1 {gcAtEnd.G1 - gcAtStart.G1}, gen2 {gcAtEnd.G2 - gcAtStart.G2}, " +
            $"paused {(gcAtEnd.Pause - gcAtStart.Pause).TotalMilliseconds:F1} ms in all{longest}, {(gcAtEnd.Allocated - gcAtStart.Allocated) / 1024.0 / Math.Max(1, result.Messages):F1} KB allocated a message");
        var cpu = new CpuReport(
            cpuAtStart.Daemon is { } d0 && cpuAtEnd.Daemon is { } d1 ? PerMessage(d1 - d0, result) : null,
            PerMessage(cpuAtEnd.Own - cpuAtStart.Own, result),
            cpuAtStart.Machine is { } m0 && cpuAtEnd.Machine is { } m1 ? BusyPercent(m0, m1) : null);
        var report = new RunReport(label, round, targetText, mix.ToString().ToLowerInvariant(), connections, warmOnly ? "warm" : "measured",
            negotiated, result, memory is null ? null : new MemoryReport(memory.RssKb / 1024.0, memory.PeakRssKb / 1024.0),
            cpu, warmResult?.Verdicts);
        if (json)
            Console.WriteLine(Json.Write(report));
        else
            Console.Write(report.ToText());
        return result.Errors == 0 ? 0 : 1;
    }

    /// <summary>
    /// One line per message of the measured run, in start order: start and end (ms since the run began),
    /// latency (ms), then each reply's arrival as step=ms since the message's start; with a thread per
    /// connection <c>queued=ms</c>: how long that connection's thread waited for a CPU during the
    /// message; last <c>gc=ms</c>: how much of the message this process spent stopped for its own
    /// collections. Both are the generator's share of the latency, not the filter's.
    /// </summary>
    private static void WriteLatencyLog(string path, LoadRunner runner, long frequency, IReadOnlyList<(long Start, long End, int Generation)> gcPauses)
    {
        double Ms(long ticks) => ticks * 1000.0 / frequency;
        var pauses = gcPauses.Where(p => p.End >= runner.LastStarted).ToList();
        // The pauses are few (tens a run): a plain scan per message is enough.
        double Paused(long start, long end) => Ms(pauses.Sum(p => Math.Max(0, Math.Min(end, p.End) - Math.Max(start, p.Start))));
        var line = new StringBuilder();
        var lines = runner.LastWorkers.SelectMany(w => (w.Ends ?? []).Select(e => (Worker: w, Message: e))).OrderBy(m => m.Message.Start)
            .Select(m =>
            {
                var (e, steps) = (m.Message, m.Worker.Steps!);
                line.Clear().Append(CultureInfo.InvariantCulture, $"{Ms(e.Start - runner.LastStarted):F3} {Ms(e.End - runner.LastStarted):F3} {Ms(e.End - e.Start):F3}");
                for (var i = e.FirstStep; i < e.FirstStep + e.StepCount; i++)
                    line.Append(CultureInfo.InvariantCulture, $" {steps[i].Step}={Ms(steps[i].At - e.Start):F3}");
                if (e.WaitedNs is { } q)
                    line.Append(CultureInfo.InvariantCulture, $" queued={q / 1e6:F3}");
                return line.Append(CultureInfo.InvariantCulture, $" gc={Paused(e.Start, e.End):F3}").ToString();
            });
        File.WriteAllLines(path, lines);
        // Where the run began on the monotonic clock (Stopwatch's on Linux), in ns: lines the log up with
        // a trace recorded with `perf record -k CLOCK_MONOTONIC`.
        File.WriteAllText(path + ".start", string.Create(CultureInfo.InvariantCulture, $"{runner.LastStarted * (1_000_000_000.0 / frequency):F0}\n"));
        // The generator's own collections in the run: from the moment its threads were being stopped to the
        // moment they went on (ms since the run began), and the generation collected.
        File.WriteAllLines(path + ".gc", pauses.Select(p => string.Create(CultureInfo.InvariantCulture,
            $"{Ms(p.Start - runner.LastStarted):F3} {Ms(p.End - runner.LastStarted):F3} gen{p.Generation}")));
    }

    private static (int G0, int G1, int G2, TimeSpan Pause, long Allocated) GcCounts() =>
        (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes());

    // The share of the machine's CPU time that was busy between two readings of /proc/stat, in per cent.
    private static double? BusyPercent((long Busy, long Idle) start, (long Busy, long Idle) end)
    {
        var (busy, idle) = (end.Busy - start.Busy, end.Idle - start.Idle);
        return busy + idle <= 0 ? null : 100.0 * busy / (busy + idle);
    }

    private static double PerMessage(TimeSpan cpu, RunResult result) => result.Messages == 0 ? 0 : cpu.TotalMilliseconds * 1000 / result.Messages;

    /// <summary>One connection to read what the filter negotiates; QUIT at once.</summary>
    private static async Task<string> ProbeAsync(EndPoint target, CancellationToken ct)
    {
        var client = await MilterClient.ConnectAsync(target, ct).ConfigureAwait(false);
        await using (client.ConfigureAwait(false))
        {
            var answer = await client.NegotiateAsync(null, ct).ConfigureAwait(false);
            await client.QuitAsync(ct).ConfigureAwait(false);
            var macros = answer.MacroLists is { Count: > 0 } lists ? "; macros " + string.Join(", ", lists.Select(kv => $"{kv.Key}: {kv.Value}")) : "";
            return string.Create(CultureInfo.InvariantCulture, $"v{answer.Version} actions 0x{(uint)answer.Actions:x} protocol 0x{(uint)answer.Protocol:x}{macros}");
        }
    }
}

/// <summary>How the generator plays its connections (<c>--client</c>).</summary>
public enum ClientModel { Threads, Async }

/// <summary>
/// CPU time per message in microseconds: the filter's (when its pid was given) and the load generator's
/// own; and how busy the whole machine's CPUs were over the measured run, in per cent (a closed loop that
/// leaves CPUs idle is waiting, not working).
/// </summary>
public sealed record CpuReport(double? DaemonUsPerMessage, double LoadUsPerMessage, double? MachineBusyPercent = null);

/// <summary>Resident memory in MB.</summary>
public sealed record MemoryReport(double RssMb, double PeakRssMb);

/// <summary>The output of one run, as text or JSON.</summary>
public sealed record RunReport(
    string Label,
    int Round,
    string Target,
    string Mix,
    int Connections,
    string Phase,
    string Negotiated,
    RunResult Result,
    MemoryReport? Daemon,
    CpuReport Cpu,
    IReadOnlyDictionary<string, long>? WarmVerdicts)
{
    public string ToText()
    {
        var r = Result;
        var w = new StringWriter(CultureInfo.InvariantCulture);
        w.WriteLine($"{(Label.Length > 0 ? Label + ": " : "")}target {Target}, mix {Mix}, {Connections} connections ({Phase})");
        w.WriteLine($"negotiated: {Negotiated}");
        w.WriteLine($"{r.Messages} messages in {r.Seconds:F2} s: {r.MessagesPerSecond:F0} messages/s");
        w.WriteLine($"latency per message, ms: p50 {r.LatencyMs.P50:F2}  p90 {r.LatencyMs.P90:F2}  p99 {r.LatencyMs.P99:F2}  max {r.LatencyMs.Max:F2}");
        w.WriteLine("verdicts: " + string.Join(", ", r.Verdicts.Select(kv => $"{kv.Key} {kv.Value}")));
        if (WarmVerdicts is not null)
            w.WriteLine("warm (second round): " + string.Join(", ", WarmVerdicts.Select(kv => $"{kv.Key} {kv.Value}")));
        w.WriteLine($"errors: {r.Errors} sessions ({r.Refused} refused by the filter), {r.LostMessages} messages lost" + (r.FirstError is null ? "" : $"; first: {r.FirstError}"));
        if (Daemon is not null)
            w.WriteLine($"daemon: rss {Daemon.RssMb:F1} MB, peak {Daemon.PeakRssMb:F1} MB");
        w.WriteLine($"cpu per message: daemon {(Cpu.DaemonUsPerMessage is { } d ? $"{d:F0} us" : "-")}, load generator {Cpu.LoadUsPerMessage:F0} us"
            + (Cpu.MachineBusyPercent is { } busy ? $"; machine's CPUs {busy:F0} % busy" : ""));
        return w.ToString();
    }
}
