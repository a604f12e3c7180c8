using System.Net;

namespace MilterHost.Tools.RelayTest;

/// <summary>The outcome of <c>relay-test</c>: who was probed from where, and each trick's replies.</summary>
/// <param name="Failure">Why the server could not be probed at all; null when it was.</param>
public sealed record RelayReport(
    RelayTarget Target,
    IPEndPoint? Server,
    IPEndPoint? Source,
    string? Greeting,
    string? HostName,
    string? LocalDomain,
    IReadOnlyList<RelayAttempt> Attempts,
    string? Failure)
{
    /// <summary>At least one foreign recipient was accepted.</summary>
    public bool IsOpenRelay => Attempts.Any(a => a.Verdict == RelayVerdict.Accepted);

    /// <summary>0: every recipient refused; 1: an open relay; 2: the server could not be reached (or not every trick tried).</summary>
    public int ExitCode => IsOpenRelay ? 1 : Failure is not null || Attempts.Any(a => a.Verdict == RelayVerdict.NotTried) ? 2 : 0;

    public int Count(RelayVerdict verdict) => Attempts.Count(a => a.Verdict == verdict);
}
