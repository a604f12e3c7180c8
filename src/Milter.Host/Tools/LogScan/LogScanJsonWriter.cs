using System.Text.Json;
using System.Text;
using MilterHost.Configuration;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// The <c>--json</c> output of <c>logscan</c>, one object:
/// <c>{"now","since","threshold","files":[..],"fileErrors":[..],"lines","events","outsideWindow",
/// "unattributed","duplicates","ambiguous","authenticated","unrecognised","offenders":[{"ip","count","kinds":{"relay-denied":3,..},
/// "firstSeen","lastSeen","reverseName","nameMayBeForged","reason"}],"exempt":[{"ip","count","why"}],
/// "applied":{"new":[ips],"alreadyBanned":[ips],"banFor"} (with --apply),"firewall":[lines] (with --firewall)}</c>.
/// Times are ISO 8601 with their offset.
/// </summary>
internal static class LogScanJsonWriter
{
    public static string Write(LogScanReport report, BanOutcome? applied, TimeSpan banFor, IReadOnlyList<string>? firewall)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("now", report.Now);
            if (report.Since is { } since)
                json.WriteString("since", since);
            else
                json.WriteNull("since");
            json.WriteNumber("threshold", report.Threshold);
            Strings(json, "files", report.Files);
            Strings(json, "fileErrors", report.FileErrors);
            var scan = report.Scan;
            json.WriteNumber("lines", scan.Lines);
            json.WriteNumber("events", scan.Events);
            json.WriteNumber("outsideWindow", scan.OutsideWindow);
            json.WriteNumber("unattributed", scan.Unattributed);
            json.WriteNumber("duplicates", scan.Duplicates);
            json.WriteNumber("ambiguous", scan.Ambiguous);
            json.WriteNumber("authenticated", scan.Authenticated);
            json.WriteNumber("unrecognised", scan.Unrecognised);

            json.WriteStartArray("offenders");
            foreach (var offender in report.Offenders)
            {
                var client = offender.Activity;
                json.WriteStartObject();
                json.WriteString("ip", client.Address.ToString());
                json.WriteNumber("count", client.Count);
                json.WriteStartObject("kinds");
                foreach (var (kind, count) in client.Kinds)
                    json.WriteNumber(kind.Name(), count);
                json.WriteEndObject();
                json.WriteString("firstSeen", client.FirstSeen);
                json.WriteString("lastSeen", client.LastSeen);
                json.WriteString("reverseName", client.ReverseName);
                json.WriteBoolean("nameMayBeForged", client.NameMayBeForged);
                json.WriteString("reason", offender.Reason);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            json.WriteStartArray("exempt");
            foreach (var exempt in report.Exempt)
            {
                json.WriteStartObject();
                json.WriteString("ip", exempt.Activity.Address.ToString());
                json.WriteNumber("count", exempt.Activity.Count);
                json.WriteString("why", exempt.Why);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            if (applied is not null)
            {
                json.WriteStartObject("applied");
                Strings(json, "new", applied.Added.Select(a => a.ToString()));
                Strings(json, "alreadyBanned", applied.AlreadyBanned.Select(a => a.ToString()));
                json.WriteString("banFor", Duration.Format(banFor));
                json.WriteEndObject();
            }
            if (firewall is not null)
                Strings(json, "firewall", firewall);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Strings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
            json.WriteStringValue(value);
        json.WriteEndArray();
    }
}
