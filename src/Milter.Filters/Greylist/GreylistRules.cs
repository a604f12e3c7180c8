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
    /// <summary><c>only_suspicious</c>: the client has forward-confirmed reverse DNS and a name that does not look dynamic.</summary>
    public const string TrustedFcrdns = "greylist:trusted-fcrdns";
    /// <summary>A <c>skip_greylist</c> DNS list (a DNSWL) lists the client.</summary>
    public const string DnsAllowList = "greylist:dns-allow-list";
}
