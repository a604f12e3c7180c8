namespace EndToEnd.Tests.Policy;

/// <summary>How long the greylist tests wait for their 2 s delay to pass.</summary>
internal static class GreylistWait
{
    /// <summary>
    /// The store counts whole seconds: a retry at least 2 s after the first attempt's RCPT is
    /// at least 2 whole seconds later. Waiting from the end of that attempt, plus a margin.
    /// </summary>
    public static readonly TimeSpan PastDelay = TimeSpan.FromSeconds(2.2);
}
