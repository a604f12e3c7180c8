using Milter.Protocol.Replies;

namespace MilterHost.Simulation;

/// <summary>
/// How the simulated message ends: accepted for some recipients, or refused, deferred or
/// discarded at a stage (with the reply the client gets).
/// </summary>
public sealed record SimulationOutcome(VerdictKind Verdict, string Stage, SmtpReply? Reply, IReadOnlyList<string> AcceptedRecipients)
{
    public string VerdictText => Verdict.ToString().ToLowerInvariant();

    public string Describe() => Verdict switch
    {
        VerdictKind.Accept or VerdictKind.Continue => $"accepted for {string.Join(", ", AcceptedRecipients.Select(r => $"<{r}>"))}",
        VerdictKind.Discard => $"accepted, then discarded at {Stage}",
        _ when Stage == Milter.Filters.DecisionStage.Rcpt => $"{VerdictText}: no recipient was accepted",
        _ => $"{VerdictText} at {Stage}" + (Reply is null ? "" : $": {Reply}"),
    };
}
