using Milter.Filters.Stats;
using MilterHost.Logging;
using MilterHost.Tools;

namespace MilterHost.Simulation;

/// <summary>The human output of <c>simulate</c>: what was played, one aligned row per stage, the outcome.</summary>
internal static class SimulationTextWriter
{
    public static void Write(TextWriter output, SimulationReport report, SimulationSetting setting)
    {
        var request = report.Request;
        output.WriteLine(PrintableText.Of($"client {request.Client} ({request.ClientName ?? "no name: unresolved"}), helo {request.HeloName}, from <{request.From.Trim('<', '>')}>"
            + (request.AuthUser is null ? "" : $", authenticated as {request.AuthUser}")));
        output.WriteLine($"config {setting.ConfigPath}; database {setting.Database}"
            + (setting.Recorded ? " (recorded)" : " (read-only: nothing is written; --record writes what a delivery would)"));
        foreach (var note in setting.Notes)
            output.WriteLine(note);
        output.WriteLine();

        var table = new TextTable("STAGE", "INPUT", "VERDICT", "REPLY", "FILTER", "RULE");
        foreach (var step in report.Steps)
        {
            // What a filter in monitor mode would have done, then what the MTA was told.
            foreach (var monitored in step.NotApplied)
            {
                table.Add(step.Stage, step.Input, $"{DecisionTally.VerdictName(monitored.Verdict.Kind)} (monitor, not applied)",
                    monitored.Verdict.Reply?.ToString() ?? "", monitored.Filter ?? "", monitored.Rule ?? "");
            }
            table.Add(step.Stage, step.Input, step.VerdictText, ReplyText(step), step.Decision?.Filter ?? "", step.Decision?.Rule ?? "");
        }
        table.WriteTo(output);
        output.WriteLine();
        foreach (var fact in report.DnsFacts)
            output.WriteLine(PrintableText.Of($"dns: {fact}"));
        output.WriteLine(PrintableText.Of($"outcome: {report.Outcome.Describe()}"));
    }

    /// <summary>The filter's reply; a refusal without one gets the MTA's own text.</summary>
    public static string ReplyText(SimulationStep step) =>
        step.Response.Reply?.ToString() ?? (step.IsFinal && step.Verdict is not (Milter.Protocol.Replies.VerdictKind.Discard or Milter.Protocol.Replies.VerdictKind.Accept)
            ? "(the MTA's own text)"
            : "");
}
