using Milter.Protocol.Replies;

namespace Milter.Filters.Greylist;

/// <summary>The answer of a check: pass or defer, the rule that decided, and when a retry will pass.</summary>
/// <param name="RetryAfter">Defer: the time left until the delay runs out; Pass: zero.</param>
/// <param name="FirstPass">This check passed the triplet for the first time (a retry after the delay).</param>
public sealed record GreylistResult(Triplet Triplet, GreylistAction Action, string Rule, TimeSpan RetryAfter, bool FirstPass = false)
{
    public bool Passes => Action == GreylistAction.Pass;

    /// <summary>
    /// For the check that first passed a triplet (<see cref="FirstPass"/>): how long it waited, from its
    /// first attempt to this one; zero otherwise (and when <c>delay</c> is zero, since nothing waited).
    /// </summary>
    public TimeSpan Delayed { get; init; }

    /// <summary>Whole seconds until a retry passes, rounded up, at least 1 for a deferral.</summary>
    public long RetrySeconds => Action == GreylistAction.Pass ? 0 : Math.Max(1, (long)Math.Ceiling(RetryAfter.TotalSeconds));

    /// <summary><c>451 4.7.1 Greylisted, please retry in N seconds</c> (<c>1 second</c>).</summary>
    public static SmtpReply DeferReply(long seconds) =>
        new(451, "4.7.1", seconds <= 1 ? "Greylisted, please retry in 1 second" : $"Greylisted, please retry in {seconds} seconds");
}
