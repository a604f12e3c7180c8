using System.Globalization;
using System.Text.Json;

namespace Milter.Load;

/// <summary>
/// <c>milter-load report --results FILE [--idle FILE] [--peak-mh MB] [--peak-ref MB] [--subject mh] [--base ref] [--self ref2] [--churn]</c>:
/// reads the JSON lines of <c>run --json</c> (and <c>idle --json</c>) that bench/run.sh collected,
/// takes the median over rounds of each (label, connections, mix), and prints one Markdown table
/// with milterhost beside the reference and their ratio, plus the reference measured against a
/// second copy of itself: the noise floor (a fair set-up reads 1.00 ± 0.06). With <c>--churn</c>,
/// bench/churn.sh's table instead: worst message, refusals and failures beside the medians.
/// </summary>
public static class ReportCommand
{
    private static readonly JsonSerializerOptions Options = new() { PropertyNameCaseInsensitive = true };

    public static Task<int> ExecuteAsync(Arguments args)
    {
        var results = args.Required("--results");
        var idle = args.Text("--idle");
        var peakSubject = args.Text("--peak-mh");
        var peakBase = args.Text("--peak-ref");
        var subject = args.Text("--subject") ?? "mh";
        var baseline = args.Text("--base") ?? "ref";
        var self = args.Text("--self") ?? "ref2";
        var churn = args.Flag("--churn");
        args.EnsureAllUsed();

        var runs = File.ReadLines(results).Where(l => l.StartsWith('{'))
            .Select(l => JsonSerializer.Deserialize<RunReport>(l, Options)!)
            .Where(r => r.Phase == "measured")
            .ToList();
        var w = new StringWriter(CultureInfo.InvariantCulture);
        if (churn)
        {
            WriteChurnTable(w, runs, subject, baseline);
            WriteMemory(w, idle, peakSubject, peakBase, subject, baseline);
            Console.Write(w.ToString());
            return Task.FromResult(0);
        }
        var rounds = runs.Select(r => r.Round).Distinct().Count();
        w.WriteLine($"Medians of {rounds} round(s); ratio = {subject} / {baseline}; calibration = {self} / {baseline} (a second reference process, measured the same way).");
        w.WriteLine();
        w.WriteLine("| C | known msg/s milterhost | reference | ratio | new msg/s milterhost | reference | ratio | p99 ms known milterhost / reference | ratio | p99 ms new milterhost / reference | ratio | calibration msg/s known | new |");
        w.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in runs.Select(r => r.Connections).Distinct().Order())
        {
            double? Median(string label, string mix, Func<RunReport, double> pick) =>
                MedianOf(runs.Where(r => r.Label == label && r.Connections == c && r.Mix == mix).Select(pick));
            double? Rate(string label, string mix) => Median(label, mix, r => r.Result.MessagesPerSecond);
            double? P99(string label, string mix) => Median(label, mix, r => r.Result.LatencyMs.P99);
            w.WriteLine($"| {c} | {N(Rate(subject, "passed"))} | {N(Rate(baseline, "passed"))} | {Ratio(Rate(subject, "passed"), Rate(baseline, "passed"))} " +
                $"| {N(Rate(subject, "new"))} | {N(Rate(baseline, "new"))} | {Ratio(Rate(subject, "new"), Rate(baseline, "new"))} " +
                $"| {Ms(P99(subject, "passed"))} / {Ms(P99(baseline, "passed"))} | {Ratio(P99(subject, "passed"), P99(baseline, "passed"))} " +
                $"| {Ms(P99(subject, "new"))} / {Ms(P99(baseline, "new"))} | {Ratio(P99(subject, "new"), P99(baseline, "new"))} " +
                $"| {Ratio(Rate(self, "passed"), Rate(baseline, "passed"))} | {Ratio(Rate(self, "new"), Rate(baseline, "new"))} |");
        }

        w.WriteLine();
        w.WriteLine("CPU per message (median, microseconds, filter process only) and errors:");
        w.WriteLine();
        w.WriteLine("| C | known milterhost | known reference | new milterhost | new reference | errors (all runs) |");
        w.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var c in runs.Select(r => r.Connections).Distinct().Order())
        {
            string Cpu(string label, string mix)
            {
                var values = runs.Where(r => r.Label == label && r.Connections == c && r.Mix == mix && r.Cpu.DaemonUsPerMessage is not null)
                    .Select(r => r.Cpu.DaemonUsPerMessage!.Value).Order().ToList();
                return values.Count == 0 ? "-" : values[values.Count / 2].ToString("F0", CultureInfo.InvariantCulture);
            }
            var errors = runs.Where(r => r.Connections == c).Sum(r => r.Result.Errors);
            w.WriteLine($"| {c} | {Cpu(subject, "passed")} | {Cpu(baseline, "passed")} | {Cpu(subject, "new")} | {Cpu(baseline, "new")} | {errors} |");
        }

        WriteMemory(w, idle, peakSubject, peakBase, subject, baseline);
        Console.Write(w.ToString());
        return Task.FromResult(0);
    }

    /// <summary>
    /// bench/churn.sh's table: per concurrency and mix, the medians over rounds of messages/s and p99,
    /// the worst message of all rounds, and every refused or failed message of all rounds.
    /// </summary>
    private static void WriteChurnTable(StringWriter w, List<RunReport> runs, string subject, string baseline)
    {
        var rounds = runs.Select(r => r.Round).Distinct().Count();
        w.WriteLine($"Connection churn (one milter connection per message, QUIT and close at once). Medians of {rounds} round(s); worst = the slowest message of all rounds; refused and failed = sums over all rounds; ratio = {subject} / {baseline}.");
        w.WriteLine();
        w.WriteLine("| C | mix | msg/s milterhost | reference | ratio | p99 ms milterhost / reference | ratio | worst ms milterhost / reference | refused milterhost / reference | other failures | CPU µs/msg milterhost / reference | CPUs busy % milterhost / reference |");
        w.WriteLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in runs.Select(r => r.Connections).Distinct().Order())
        {
            foreach (var mix in runs.Select(r => r.Mix).Distinct().Order(StringComparer.Ordinal).Reverse())
            {
                List<RunReport> Of(string label) => runs.Where(r => r.Label == label && r.Connections == c && r.Mix == mix).ToList();
                var (s, b) = (Of(subject), Of(baseline));
                if (s.Count == 0 && b.Count == 0)
                    continue;
                double? Rate(List<RunReport> r) => MedianOf(r.Select(x => x.Result.MessagesPerSecond));
                double? P99(List<RunReport> r) => MedianOf(r.Select(x => x.Result.LatencyMs.P99));
                double? Worst(List<RunReport> r) => r.Count == 0 ? null : r.Max(x => x.Result.LatencyMs.Max);
                double? Cpu(List<RunReport> r) => MedianOf(r.Where(x => x.Cpu.DaemonUsPerMessage is not null).Select(x => x.Cpu.DaemonUsPerMessage!.Value));
                double? Busy(List<RunReport> r) => MedianOf(r.Where(x => x.Cpu.MachineBusyPercent is not null).Select(x => x.Cpu.MachineBusyPercent!.Value));
                string Sum(List<RunReport> r, Func<RunResult, long> pick) => r.Count == 0 ? "-" : r.Sum(x => pick(x.Result)).ToString(CultureInfo.InvariantCulture);
                w.WriteLine($"| {c} | {(mix == "passed" ? "known" : mix)} | {N(Rate(s))} | {N(Rate(b))} | {Ratio(Rate(s), Rate(b))} " +
                    $"| {Ms(P99(s))} / {Ms(P99(b))} | {Ratio(P99(s), P99(b))} | {Ms(Worst(s))} / {Ms(Worst(b))} " +
                    $"| {Sum(s, x => x.Refused)} / {Sum(b, x => x.Refused)} | {Sum(s, x => x.Errors - x.Refused)} / {Sum(b, x => x.Errors - x.Refused)} " +
                    $"| {N(Cpu(s))} / {N(Cpu(b))} | {N(Busy(s))} / {N(Busy(b))} |");
            }
        }
        var errors = runs.Where(r => r.Result.FirstError is not null).Select(r => $"{r.Label} C={r.Connections} {r.Mix} round {r.Round}: {r.Result.FirstError}").Distinct().Take(10).ToList();
        if (errors.Count > 0)
        {
            w.WriteLine();
            w.WriteLine("First error of runs with errors:");
            w.WriteLine();
            foreach (var e in errors)
                w.WriteLine("- " + e);
        }
    }

    private static double? MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0)
            return null;
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static void WriteMemory(StringWriter w, string? idle, string? peakSubject, string? peakBase, string subject, string baseline)
    {
        w.WriteLine();
        w.WriteLine("| memory | milterhost | reference | ratio |");
        w.WriteLine("|---|---:|---:|---:|");
        if (peakSubject is not null && peakBase is not null)
        {
            var ps = double.Parse(peakSubject, CultureInfo.InvariantCulture);
            var pb = double.Parse(peakBase, CultureInfo.InvariantCulture);
            w.WriteLine($"| peak RSS after all runs (VmHWM) | {ps:F1} MB | {pb:F1} MB | {Ratio(ps, pb)} |");
        }
        if (idle is not null && File.Exists(idle))
        {
            var idles = File.ReadLines(idle).Where(l => l.StartsWith('{')).Select(l => JsonSerializer.Deserialize<IdleReport>(l, Options)!).ToList();
            var s = idles.FirstOrDefault(i => i.Label == subject);
            var b = idles.FirstOrDefault(i => i.Label == baseline);
            if (s is not null && b is not null)
            {
                w.WriteLine($"| RSS with {s.Connections:N0} idle connections (after HELO), before the load runs | {s.RssIdleMb:F1} MB | {b.RssIdleMb:F1} MB | {Ratio(s.RssIdleMb, b.RssIdleMb)} |");
                w.WriteLine($"| of which the idle connections (RSS with them minus RSS before) | {s.RssIdleMb - s.RssBeforeMb:F1} MB | {b.RssIdleMb - b.RssBeforeMb:F1} MB | {Ratio(s.RssIdleMb - s.RssBeforeMb, b.RssIdleMb - b.RssBeforeMb)} |");
            }
        }
    }

    private static string N(double? v) => v is { } x ? x.ToString("F0", CultureInfo.InvariantCulture) : "-";

    private static string Ms(double? v) => v is { } x ? x.ToString(x < 10 ? "F2" : "F1", CultureInfo.InvariantCulture) : "-";

    private static string Ratio(double? a, double? b) =>
        a is { } x && b is { } y && y > 0 ? (x / y).ToString("F2", CultureInfo.InvariantCulture) : "-";
}
