using System.Globalization;
using Milter.Filters.Stats;
using MilterHost.Configuration;
using MilterHost.Tools;

namespace MilterHost.Status;

/// <summary>The human output of <c>milterhost stats</c>.</summary>
internal static class StatsText
{
    public static void Write(TextWriter output, StatsReport report)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(report);
        output.WriteLine($"milterhost stats for {Format(report.From)} to {Format(report.To)} ({Duration.Format(report.To - report.From)})");
        output.WriteLine();
        output.WriteLine("Totals: " + string.Join(", ", StatsJson.Verdicts.Select(v => $"{v} {report.Total(v)}")));
        output.WriteLine();

        Section(output, "Decisions by filter and verdict (filter - : messages every filter let through)", report.Decisions,
            new TextTable("FILTER", "VERDICT", "RULE", "COUNT").AlignRight(3), d => [d.Filter, d.Verdict, d.Rule, Number(d.Count)]);
        output.WriteLine();

        var g = report.Greylist;
        output.WriteLine("Greylisting (triplets)");
        var funnel = new TextTable("", "").AlignRight(1);
        funnel.Add("first attempts", Number(g.FirstAttempts));
        funnel.Add("retries", Number(g.Retries));
        funnel.Add("passed", Number(g.Passed));
        funnel.Add("never retried", Number(g.NeverRetried));
        funnel.Add("retried too early only", Number(g.GaveUp));
        funnel.Add("pass rate", g.PassRate is { } rate ? (rate * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%" : "-");
        funnel.Add("median delay waited", g.MedianDelaySeconds is { } delay ? Duration.Format(TimeSpan.FromSeconds(Math.Round(delay))) : "-");
        funnel.Add("pending now", Number(report.PendingTriplets));
        funnel.Add("auto-whitelisted now", Number(report.AutoWhitelisted));
        funnel.Add("dynamic bans active", Number(report.DynamicBansActive));
        funnel.WriteTo(output);
        output.WriteLine();

        Section(output, $"Top {StatsReporter.TopCount} refused networks", report.TopRefusedNetworks, new TextTable("NETWORK", "COUNT", "BANNED").AlignRight(1),
            n => [n.Network, Number(n.Count), n.Banned ? "yes (" + string.Join(", ", n.Bans) + ")" : "no"]);
        output.WriteLine();
        Section(output, $"Top {StatsReporter.TopCount} refused sender domains", report.TopRefusedSenderDomains, new TextTable("DOMAIN", "COUNT").AlignRight(1),
            d => [d.Name, Number(d.Count)]);
    }

    /// <summary>A title and a table of <paramref name="rows"/>, or "(none)".</summary>
    private static void Section<T>(TextWriter output, string title, IReadOnlyList<T> rows, TextTable table, Func<T, string[]> cells)
    {
        output.WriteLine(title);
        if (rows.Count == 0)
        {
            output.WriteLine("  (none)");
            return;
        }
        foreach (var row in rows)
            table.Add(cells(row));
        table.WriteTo(output);
    }

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Format(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
