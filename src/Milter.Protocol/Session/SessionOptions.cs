using Milter.Protocol.Replies;

namespace Milter.Protocol.Session;

/// <summary>What the listener and each connection run with: the limits, and the answer when the handler fails.</summary>
public sealed record SessionOptions
{
    public MilterLimits Limits { get; init; } = new();

    /// <summary>The answer when the handler throws or exceeds <see cref="MilterLimits.StageTimeout"/> (on_error).</summary>
    public Verdict FailureVerdict { get; init; } = FailureReply.Tempfail;
}
