using System.Text;
using System.Text.Json;
using Milter.Filters.Stats;

namespace MilterHost.Status;

/// <summary>The JSON of a <see cref="StatsReport"/>: what <c>stats --json</c> prints and <c>/api/summary</c> serves, byte for byte.</summary>
internal static class StatsJson
{
    /// <summary>The verdicts the totals always list, in this order.</summary>
    public static readonly string[] Verdicts = ["accept", "reject", "tempfail", "discard"];

    public static string Write(StatsReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("window");
            json.WriteString("from", report.From.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("to", report.To.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteNumber("seconds", (long)(report.To - report.From).TotalSeconds);
            json.WriteEndObject();

            json.WriteStartObject("totals");
            foreach (var verdict in Verdicts)
                json.WriteNumber(verdict, report.Total(verdict));
            json.WriteEndObject();

            WriteArray(json, "decisions", report.ByFilter, d =>
            {
                json.WriteString("filter", d.Filter);
                json.WriteString("verdict", d.Verdict);
            }, d => d.Count);
            WriteArray(json, "rules", report.Decisions, d =>
            {
                json.WriteString("filter", d.Filter);
                json.WriteString("verdict", d.Verdict);
                json.WriteString("rule", d.Rule);
            }, d => d.Count);

            var g = report.Greylist;
            json.WriteStartObject("greylist");
            json.WriteNumber("first_attempts", g.FirstAttempts);
            json.WriteNumber("retries", g.Retries);
            json.WriteNumber("passed", g.Passed);
            json.WriteNumber("never_retried", g.NeverRetried);
            json.WriteNumber("gave_up", g.GaveUp);
            WriteNullable(json, "pass_rate", g.PassRate is { } rate ? Math.Round(rate, 4) : null);
            WriteNullable(json, "median_delay_seconds", g.MedianDelaySeconds);
            json.WriteNumber("pending_triplets", report.PendingTriplets);
            json.WriteNumber("passed_triplets", report.PassedTriplets);
            json.WriteEndObject();

            json.WriteStartObject("auto_whitelist");
            json.WriteNumber("whitelisted", report.AutoWhitelisted);
            json.WriteNumber("entries", report.AutoWhitelistEntries);
            json.WriteEndObject();

            json.WriteNumber("dynamic_bans_active", report.DynamicBansActive);

            WriteArray(json, "top_refused_networks", report.TopRefusedNetworks, n => json.WriteString("network", n.Network), n => n.Count, n =>
            {
                json.WriteBoolean("banned", n.Banned);
                json.WriteStartArray("bans");
                foreach (var ban in n.Bans)
                    json.WriteStringValue(ban);
                json.WriteEndArray();
            });
            WriteArray(json, "top_refused_sender_domains", report.TopRefusedSenderDomains, d => json.WriteString("domain", d.Name), d => d.Count);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>An array of objects: the fields that name the row, its <c>count</c>, then any more fields.</summary>
    private static void WriteArray<T>(Utf8JsonWriter json, string name, IEnumerable<T> rows, Action<T> names, Func<T, long> count, Action<T>? more = null)
    {
        json.WriteStartArray(name);
        foreach (var row in rows)
        {
            json.WriteStartObject();
            names(row);
            json.WriteNumber("count", count(row));
            more?.Invoke(row);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v)
            json.WriteNumber(name, v);
        else
            json.WriteNull(name);
    }
}
