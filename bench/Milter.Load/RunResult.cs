namespace Milter.Load;

/// <summary>Latency percentiles of one run, in milliseconds.</summary>
public sealed record Latency(double P50, double P90, double P99, double Max);

/// <summary>What one measured run produced.</summary>
public sealed record RunResult(
    long Messages,
    double Seconds,
    double MessagesPerSecond,
    Latency LatencyMs,
    IReadOnlyDictionary<string, long> Verdicts,
    long Errors,
    long LostMessages,
    string? FirstError,
    long Refused = 0)
{
    internal static RunResult Merge(IReadOnlyList<LoadRunner.Worker> workers, TimeSpan elapsed, long frequency)
    {
        var all = new List<long>(workers.Sum(w => w.Latencies.Count));
        var verdicts = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long errors = 0, lost = 0, refused = 0;
        string? first = null;
        foreach (var w in workers)
        {
            all.AddRange(w.Latencies);
            foreach (var (k, v) in w.Outcomes)
                verdicts[k] = verdicts.GetValueOrDefault(k) + v;
            errors += w.Errors;
            refused += w.Refused;
            lost += w.LostMessages;
            first ??= w.FirstError;
        }
        all.Sort();
        double Ms(long ticks) => ticks * 1000.0 / frequency;
        double At(double q) => all.Count == 0 ? 0 : Ms(all[Math.Min(all.Count - 1, (int)Math.Ceiling(q * all.Count) - 1)]);
        var latency = new Latency(At(0.50), At(0.90), At(0.99), all.Count == 0 ? 0 : Ms(all[^1]));
        var seconds = elapsed.TotalSeconds;
        return new RunResult(all.Count, seconds, all.Count / seconds, latency, verdicts, errors, lost, first, refused);
    }
}
