using Milter.Filters;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MilterHost.Simulation;

/// <summary>
/// The <c>--json</c> output of <c>simulate</c>, one object:
/// <c>{"config","database","recorded","notes":[..],"request":{"client","clientName","helo","from","to":[..],"subject","auth"},
/// "stages":[{"stage","input","recipient","sent","verdict","reply","filter","rule","notApplied":[{"verdict","reply","filter","rule","mode"}]}],
/// "outcome":{"verdict","stage","reply","acceptedRecipients":[..]}}</c>. A stage not sent has
/// <c>"sent": false</c> and verdict <c>"not sent"</c>; absent values are null. Addresses keep their angle brackets unescaped.
/// </summary>
internal static class SimulationJsonWriter
{
    public static string Write(SimulationReport report, SimulationSetting setting)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("config", setting.ConfigPath);
            json.WriteString("database", setting.Database);
            json.WriteBoolean("recorded", setting.Recorded);
            Strings(json, "notes", setting.Notes);

            var request = report.Request;
            json.WriteStartObject("request");
            json.WriteString("client", request.Client.ToString());
            json.WriteString("clientName", request.ClientName);
            json.WriteString("helo", request.HeloName);
            json.WriteString("from", request.From.Trim('<', '>'));
            Strings(json, "to", [.. request.To.Select(t => t.Trim('<', '>'))]);
            json.WriteString("subject", request.Subject);
            json.WriteString("auth", request.AuthUser);
            json.WriteEndObject();

            json.WriteStartArray("stages");
            foreach (var step in report.Steps)
            {
                json.WriteStartObject();
                json.WriteString("stage", step.Stage);
                json.WriteString("input", step.Input);
                json.WriteString("recipient", step.Recipient);
                json.WriteBoolean("sent", step.Sent);
                json.WriteString("verdict", step.VerdictText);
                json.WriteString("reply", step.Response.Reply?.ToString());
                json.WriteString("filter", step.Decision?.Filter);
                json.WriteString("rule", step.Decision?.Rule);
                json.WriteStartArray("notApplied");
                foreach (var monitored in step.NotApplied)
                {
                    json.WriteStartObject();
                    json.WriteString("verdict", Milter.Filters.Stats.DecisionTally.VerdictName(monitored.Verdict.Kind));
                    json.WriteString("reply", monitored.Verdict.Reply?.ToString());
                    json.WriteString("filter", monitored.Filter);
                    json.WriteString("rule", monitored.Rule);
                    json.WriteString("mode", FilterModeNames.Monitor);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            Strings(json, "dns", report.DnsFacts);

            var outcome = report.Outcome;
            json.WriteStartObject("outcome");
            json.WriteString("verdict", outcome.VerdictText);
            json.WriteString("stage", outcome.Stage);
            json.WriteString("reply", outcome.Reply?.ToString());
            Strings(json, "acceptedRecipients", outcome.AcceptedRecipients);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Strings(Utf8JsonWriter json, string name, IReadOnlyList<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
            json.WriteStringValue(value);
        json.WriteEndArray();
    }
}
