namespace Milter.Filters.Greylist;

/// <summary>The rule ids greylisting reports in <see cref="Milter.Protocol.Replies.Verdict.Rule"/> and its log lines.</summary>
public static class GreylistRules
{
    /// <summary>First attempt of an unseen (or expired) triplet: deferred.</summary>
    public const string New = "greylist:new";
    /// <summary>Retry before the delay ran out: deferred again, the clock not reset.</summary>
    public const string Early = "greylist:early";
    /// <summary>A passed triplet, or the retry that passed it.</summary>
    public const string Passed = "greylist:passed";
    /// <summary>The (client, sender domain) is auto-whitelisted.</summary>
    public const string Whitelisted = "greylist:whitelisted";
    /// <summary>An admin allow entry (network or sender domain) matched.</summary>
    public const string Allowed = "greylist:allowed";
}
