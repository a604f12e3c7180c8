using Milter.Filters;
using Milter.Protocol.Client;
using Milter.Protocol.Replies;

namespace MilterHost.Simulation;

/// <summary>
/// One stage of a simulated session: what was sent, what the filter answered over the wire, and
/// the chain's decision behind a final answer (the filter and rule), and what filters in monitor
/// mode decided there without it being applied.
/// </summary>
/// <param name="Stage">A <see cref="DecisionStage"/> name.</param>
/// <param name="Input">What the stage carried (<c>&lt;a@example.com&gt;</c>, <c>Subject: hello</c>); empty for DATA, EOH and EOM.</param>
/// <param name="Recipient">RCPT only: the recipient.</param>
public sealed record SimulationStep(string Stage, string Input, MilterResponse Response, Decision? Decision, string? Recipient = null)
{
    /// <summary>The decisions of filters in monitor mode at this stage (this recipient at RCPT): what would have happened; the MTA heard <see cref="Response"/>.</summary>
    public IReadOnlyList<Decision> NotApplied { get; init; } = [];

    /// <summary>False when no filter asked for this stage: the MTA does not send it.</summary>
    public bool Sent => Response.Sent;

    public VerdictKind Verdict => Response.Kind;

    /// <summary>The verdict as printed: <c>continue</c>, <c>reject</c>, <c>tempfail</c>, <c>discard</c>, <c>accept</c>, or <c>not sent</c>.</summary>
    public string VerdictText => Sent ? Verdict.ToString().ToLowerInvariant() : "not sent";

    /// <summary>A final answer for the message (or, at RCPT, for that recipient).</summary>
    public bool IsFinal => Sent && Verdict is not (VerdictKind.Continue or VerdictKind.Skip);
}
