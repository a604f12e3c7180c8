using System.Globalization;
using System.Net;
using System.Text;
using Milter.Filters.Stats;
using MilterHost.Configuration;

namespace MilterHost.Status;

/// <summary>Everything the status page shows, read at one moment.</summary>
internal sealed record StatusPageModel(
    string Host,
    string Version,
    DateTimeOffset Now,
    int Generation,
    int ConnectionsOpen,
    ProcStatus Process,
    StatsReport Summary,
    DateTimeOffset HoursFrom,
    IReadOnlyList<HourlyCount> Hourly,
    IReadOnlyList<RecentDecision> Recent);

/// <summary>
/// The status page: one self-contained HTML document (inline CSS, charts drawn here as inline SVG,
/// no script, no outside resource) that reloads itself every minute and fits a phone's width.
/// Every number a test or a person may look for carries an id or a data- attribute.
/// </summary>
internal static class StatusPage
{
    /// <summary>Hours in the decisions chart.</summary>
    public const int Hours = 48;

    private static string Memory(ProcStatus process) => process.ResidentKb is { } resident && process.ResidentPeakKb is { } peak
        ? string.Create(CultureInfo.InvariantCulture, $"""memory <span id="memory-resident">{resident / 1024.0:F1}</span> MB (peak <span id="memory-peak">{peak / 1024.0:F1}</span> MB)""")
        : "memory unknown";

    private static readonly (string Verdict, string Color, string Label)[] Series =
    [
        ("accept", "#2e7d32", "accepted"),
        ("tempfail", "#f9a825", "deferred"),
        ("reject", "#c62828", "rejected"),
        ("discard", "#6d4c41", "discarded"),
    ];

    public static string Render(StatusPageModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var s = model.Summary;
        var html = new StringBuilder(16 * 1024);
        html.Append($"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="refresh" content="60">
            <title>milterhost on {E(model.Host)}</title>
            <style>{Css}</style>
            </head>
            <body>
            <header>
            <h1>milterhost <span class="host">{E(model.Host)}</span></h1>
            <p class="meta">version {E(model.Version)} · config generation <span id="generation">{model.Generation}</span> · connections open <span id="connections-open">{model.ConnectionsOpen}</span> · {Memory(model.Process)} · updated {Time(model.Now)} UTC · refreshes every minute</p>
            </header>
            <main>
            <h2 class="period">Last 24 hours</h2>
            <section class="cards" aria-label="last 24 hours">
            """);
        foreach (var (verdict, color, label) in Series)
            Card(html, "total-" + verdict, label, N(s.Total(verdict)), color);
        Card(html, "greylist-pass-rate", "greylist pass rate", s.Greylist.PassRate is { } rate ? (rate * 100).ToString("0", CultureInfo.InvariantCulture) + "%" : "–", null);
        Card(html, "greylist-median-delay", "median greylist delay",
            s.Greylist.MedianDelaySeconds is { } delay ? Duration.Format(TimeSpan.FromSeconds(Math.Round(delay))) : "–", null);
        Card(html, "auto-whitelisted", "auto-whitelisted", N(s.AutoWhitelisted), null);
        Card(html, "bans-active", "dynamic bans", N(s.DynamicBansActive), null);
        html.Append("</section>\n");

        html.Append($"<section><h2>Decisions per hour, last {Hours} hours</h2>\n");
        HourlyChart(html, model.HoursFrom, model.Hourly);
        html.Append("</section>\n");

        html.Append("<div class=\"two\">\n<section><h2>Greylisting, last 24 hours</h2>\n");
        Funnel(html, s.Greylist);
        html.Append("</section>\n");

        html.Append("<section><h2>Top refused networks, last 24 hours</h2>\n");
        Table(html, "refused-networks", "none", ["network", "#refused", "banned"], s.TopRefusedNetworks, n =>
            $"<tr data-network=\"{E(n.Network)}\" data-count=\"{n.Count}\" data-banned=\"{(n.Banned ? "yes" : "no")}\"><td>{E(n.Network)}</td><td class=\"n\">{N(n.Count)}</td>"
            + $"<td>{(n.Banned ? "<span class=\"yes\">yes</span> " + E(string.Join(", ", n.Bans)) : "no")}</td></tr>");
        if (s.TopRefusedSenderDomains.Count > 0)
            html.Append("<h3>Top refused sender domains</h3>\n");
        Table(html, "refused-domains", "", ["domain", "#refused"], s.TopRefusedSenderDomains, d =>
            $"<tr data-domain=\"{E(d.Name)}\" data-count=\"{d.Count}\"><td>{E(d.Name)}</td><td class=\"n\">{N(d.Count)}</td></tr>");
        html.Append("</section>\n</div>\n");

        html.Append("<section><h2>Decisions by filter, last 24 hours</h2>\n");
        Table(html, "decisions", "none", ["filter", "verdict", "rule", "#count"], s.Decisions, d =>
            $"<tr data-filter=\"{E(d.Filter)}\" data-verdict=\"{E(d.Verdict)}\" data-rule=\"{E(d.Rule)}\" data-count=\"{d.Count}\"><td>{E(d.Filter)}</td><td>{Verdict(d.Verdict)}</td>"
            + $"<td>{E(d.Rule)}</td><td class=\"n\">{N(d.Count)}</td></tr>");
        html.Append("</section>\n");

        html.Append("<section><h2>Recent decisions</h2>\n<div class=\"scroll\">");
        Table(html, "recent", "none since the daemon started", ["time (UTC)", "verdict", "mode", "stage", "filter", "rule", "client", "from", "to"], model.Recent, r =>
            $"<tr data-verdict=\"{E(r.Verdict)}\" data-mode=\"{E(r.Mode)}\" data-filter=\"{E(r.Filter)}\" data-rule=\"{E(r.Rule)}\"><td>{Time(r.At)}</td><td>{Verdict(r.Verdict)}</td><td>{E(r.Mode)}</td><td>{E(r.Stage)}</td>"
            + $"<td>{E(r.Filter)}</td><td>{E(r.Rule)}</td><td>{E(r.Client)}</td><td>{E(r.Sender)}</td><td>{E(r.Recipient)}</td></tr>");
        html.Append("</div>\n</section>\n</main>\n</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>A table with a header (a leading <c>#</c> marks a number column), or the <paramref name="empty"/> note when there are no rows.</summary>
    private static void Table<T>(StringBuilder html, string id, string empty, string[] headers, IReadOnlyList<T> rows, Func<T, string> row)
    {
        if (rows.Count == 0)
        {
            if (empty.Length > 0)
                html.Append($"<p class=\"none\">{E(empty)}</p>\n");
            return;
        }
        html.Append($"<table id=\"{id}\"><thead><tr>");
        foreach (var header in headers)
            html.Append(header.StartsWith('#') ? $"<th class=\"n\">{E(header[1..])}</th>" : $"<th>{E(header)}</th>");
        html.Append("</tr></thead><tbody>\n");
        foreach (var r in rows)
            html.Append(row(r)).Append('\n');
        html.Append("</tbody></table>\n");
    }

    private static void Card(StringBuilder html, string id, string label, string value, string? color)
    {
        var swatch = color is null ? "" : $" style=\"border-top-color:{color}\"";
        html.Append($"<div class=\"card\"{swatch}><div class=\"value\" id=\"{id}\">{E(value)}</div><div class=\"label\">{E(label)}</div></div>\n");
    }

    /// <summary>One stacked bar per hour, by verdict, with a y axis of round numbers and a label every six hours.</summary>
    private static void HourlyChart(StringBuilder html, DateTimeOffset from, IReadOnlyList<HourlyCount> hourly)
    {
        const double width = 960, height = 260, left = 44, right = 8, top = 10, bottom = 28;
        var plotWidth = width - left - right;
        var plotHeight = height - top - bottom;
        var slot = plotWidth / Hours;
        var byHour = hourly.ToLookup(h => (long)Math.Floor((h.Hour - from).TotalHours));
        var totals = Enumerable.Range(0, Hours).Select(i => byHour[i].Sum(h => h.Count)).ToArray();
        // Gridlines at a round step (1, 2 or 5 times a power of ten), at most four of them above zero.
        var step = NiceCeiling((long)Math.Ceiling(Math.Max(1, totals.Max()) / 4.0));
        var lines = (int)Math.Ceiling(Math.Max(1, totals.Max()) / (double)step);
        var max = step * lines;

        html.Append(CultureInfo.InvariantCulture, $"<svg id=\"hourly\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"decisions per hour by verdict\" data-total=\"{totals.Sum()}\">\n");
        for (var line = 0; line <= lines; line++)
        {
            var value = step * line;
            var y = top + plotHeight - plotHeight * line / lines;
            html.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\" class=\"grid\"/>");
            html.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{y + 4:0.#}\" class=\"axis\" text-anchor=\"end\">{value}</text>\n");
        }
        for (var i = 0; i < Hours; i++)
        {
            var hour = from.AddHours(i);
            var x = left + i * slot;
            var bar = new StringBuilder();
            var baseline = top + plotHeight;
            var tip = new List<string>();
            foreach (var (verdict, color, _) in Series.Append(("other", "#9e9e9e", "other")))
            {
                var count = verdict == "other"
                    ? byHour[i].Where(h => !Series.Any(s => s.Verdict == h.Verdict)).Sum(h => h.Count)
                    : byHour[i].Where(h => h.Verdict == verdict).Sum(h => h.Count);
                if (count == 0)
                    continue;
                var h = plotHeight * count / max;
                baseline -= h;
                tip.Add($"{verdict} {count}");
                bar.Append(CultureInfo.InvariantCulture,
                    $"<rect x=\"{x + 1:0.##}\" y=\"{baseline:0.##}\" width=\"{slot - 2:0.##}\" height=\"{h:0.##}\" fill=\"{color}\" data-verdict=\"{verdict}\" data-count=\"{count}\"/>");
            }
            html.Append(CultureInfo.InvariantCulture, $"<g data-hour=\"{hour.UtcDateTime:yyyy-MM-ddTHH}\" data-total=\"{totals[i]}\"><title>{hour.UtcDateTime:ddd HH}:00 UTC: {(tip.Count == 0 ? "none" : string.Join(", ", tip))}</title>");
            html.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:0.##}\" y=\"{top}\" width=\"{slot:0.##}\" height=\"{plotHeight}\" fill=\"transparent\"/>");
            html.Append(bar).Append("</g>\n");
            if (hour.Hour % 6 == 0)
            {
                html.Append(CultureInfo.InvariantCulture,
                    $"<text x=\"{x + slot / 2:0.#}\" y=\"{height - 8}\" class=\"axis\" text-anchor=\"middle\">{hour.UtcDateTime:HH}:00</text>\n");
            }
        }
        html.Append("</svg>\n<p class=\"legend\">");
        foreach (var (verdict, color, label) in Series)
            html.Append($"<span><i style=\"background:{color}\"></i>{E(label)}</span> ");
        html.Append("</p>\n");
    }

    /// <summary>The greylist funnel as horizontal bars, widths relative to the first attempts (or the largest count).</summary>
    private static void Funnel(StringBuilder html, GreylistFunnel g)
    {
        (string Id, string Label, long Count, string Color)[] steps =
        [
            ("funnel-first", "first attempts", g.FirstAttempts, "#546e7a"),
            ("funnel-retries", "retries", g.Retries, "#f9a825"),
            ("funnel-passed", "passed", g.Passed, "#2e7d32"),
            ("funnel-never", "never retried", g.NeverRetried, "#c62828"),
        ];
        const double width = 460, row = 34, labelWidth = 120, numberWidth = 60;
        var max = Math.Max(1, steps.Max(s => s.Count));
        html.Append(CultureInfo.InvariantCulture, $"<svg id=\"funnel\" viewBox=\"0 0 {width} {row * steps.Length}\" role=\"img\" aria-label=\"greylist funnel\">\n");
        for (var i = 0; i < steps.Length; i++)
        {
            var (id, label, count, color) = steps[i];
            var y = i * row;
            var w = (width - labelWidth - numberWidth) * count / max;
            html.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"{y + 21}\" class=\"label\">{label}</text>");
            html.Append(CultureInfo.InvariantCulture, $"<rect x=\"{labelWidth}\" y=\"{y + 6}\" width=\"{Math.Max(w, count > 0 ? 2 : 0):0.##}\" height=\"{row - 12}\" fill=\"{color}\"/>");
            html.Append(CultureInfo.InvariantCulture, $"<text x=\"{labelWidth + w + 6:0.##}\" y=\"{y + 21}\" class=\"count\" id=\"{id}\">{count}</text>\n");
        }
        html.Append("</svg>\n");
        if (g.GaveUp > 0)
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">{g.GaveUp} more expired after retrying only too early.</p>\n");
    }

    /// <summary>The smallest 1, 2 or 5 times a power of ten at or above <paramref name="n"/>.</summary>
    internal static long NiceCeiling(long n)
    {
        for (long magnitude = 1; ; magnitude *= 10)
        {
            foreach (var factor in (long[])[1, 2, 5])
            {
                if (factor * magnitude >= n)
                    return factor * magnitude;
            }
        }
    }

    private static string Verdict(string verdict) => $"<span class=\"v v-{E(verdict)}\">{E(verdict)}</span>";

    private static string N(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private const string Css = """
        :root { color-scheme: light; --ink: #212121; --muted: #616161; --line: #e0e0e0; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fafafa; }
        header, main { max-width: 1100px; margin: 0 auto; padding: 0 16px; }
        header { padding-top: 16px; }
        h1 { font-size: 1.5rem; margin: 0; }
        h1 .host { color: var(--muted); font-weight: normal; }
        h2 { font-size: 1.1rem; margin: 0 0 8px; }
        h3 { font-size: 1rem; margin: 16px 0 6px; }
        .meta { color: var(--muted); margin: 4px 0 12px; font-size: .9rem; }
        h2.period { font-size: .95rem; color: var(--muted); font-weight: 600; margin: 0 0 6px; }
        section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px; margin: 0 0 14px; }
        .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(115px, 1fr)); gap: 10px; background: none; border: 0; padding: 0; }
        .card { background: #fff; border: 1px solid var(--line); border-top: 4px solid #90a4ae; border-radius: 8px; padding: 10px 12px; }
        .card .value { font-size: 1.6rem; font-weight: 600; font-variant-numeric: tabular-nums; }
        .card .label { color: var(--muted); font-size: .85rem; }
        .two { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
        .two section { margin: 0 0 14px; }
        @media (max-width: 760px) { .two { grid-template-columns: 1fr; } body { font-size: 14px; } }
        @media (max-width: 500px) { #hourly .axis { font-size: 30px; } #funnel .label, #funnel .count { font-size: 17px; } }
        svg { width: 100%; height: auto; display: block; }
        svg .grid { stroke: var(--line); stroke-width: 1; }
        svg .axis { font-size: 11px; fill: var(--muted); }
        svg .label { font-size: 13px; fill: var(--ink); }
        svg .count { font-size: 13px; font-weight: 600; fill: var(--ink); }
        .legend { margin: 8px 0 0; font-size: .85rem; color: var(--muted); }
        .legend span { margin-right: 12px; white-space: nowrap; }
        .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; vertical-align: baseline; }
        table { border-collapse: collapse; width: 100%; font-size: .9rem; }
        th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { color: var(--muted); font-weight: 600; }
        .n { text-align: right; font-variant-numeric: tabular-nums; }
        .scroll { overflow-x: auto; }
        .scroll td { white-space: nowrap; }
        .none, .note { color: var(--muted); margin: 4px 0; }
        .yes { color: #c62828; font-weight: 600; }
        .v { padding: 1px 6px; border-radius: 4px; font-size: .8rem; color: #fff; background: #9e9e9e; }
        .v-accept { background: #2e7d32; } .v-tempfail { background: #b57a00; } .v-reject { background: #c62828; } .v-discard { background: #6d4c41; }
        """;
}
