using Milter.Filters;
using Milter.Filters.Context;
using Milter.Protocol.Replies;

namespace Milter.Filters.Tests.Support;

/// <summary>What the MTA heard at each step; <see cref="StepOutcome.Verdict"/> is null for a step never sent.</summary>
public sealed record StepOutcome(string Command, Verdict? Verdict)
{
    /// <summary>What the SMTP client would see, in short: the reply, <c>continue</c>, <c>discard</c>, or <c>(not sent)</c>.</summary>
    public string Heard => Verdict switch
    {
        null => "(not sent)",
        { Reply: { } reply } => reply.ToString(),
        { } v => v.Kind.ToString().ToLowerInvariant(),
    };
}

public sealed record TransactionResult(
    IReadOnlyList<StepOutcome> Steps, IReadOnlyList<Decision> Decisions, SessionContext Session, ChainHandler Handler)
{
    /// <summary>What the client heard for the step whose command starts with <paramref name="command"/> (e.g. <c>RCPT TO:&lt;bob@example.com&gt;</c>).</summary>
    public string Heard(string command)
    {
        var step = Steps.LastOrDefault(s => s.Command.StartsWith(command, StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidOperationException($"no step '{command}' in: {string.Join(" | ", Steps.Select(s => s.Command))}");
        return step.Heard;
    }

    /// <summary>What the client heard for RCPT TO of this address.</summary>
    public string Rcpt(string address) => Heard($"RCPT TO:<{address}>");

    public string Connect => Steps[0].Heard;

    /// <summary>
    /// The header changes the filters made at end of message, in order, across the session's messages:
    /// <c>add NAME: VALUE</c>, <c>insert INDEX NAME: VALUE</c>, <c>remove INDEX NAME</c>.
    /// </summary>
    public IReadOnlyList<string> HeaderChanges { get; init; } = [];

    public string EndOfMessage => Heard(".");

    /// <summary>The one decision made, or a failure listing them.</summary>
    public Decision SingleDecision => Decisions.Count == 1
        ? Decisions[0]
        : throw new InvalidOperationException($"expected one decision, got {Decisions.Count}: {string.Join("; ", Decisions)}");
}
