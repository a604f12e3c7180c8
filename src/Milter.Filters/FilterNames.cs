namespace Milter.Filters;

/// <summary>
/// The names of the built-in filters, as the YAML <c>filters:</c> list, the decision log line,
/// <c>simulate</c> and <c>/metrics</c> write them, and the one place the default order is written.
/// </summary>
public static class FilterNames
{
    public const string Relay = "relay";
    public const string Ban = "ban";
    public const string Recipients = "recipients";
    public const string DnsLists = "dns_lists";
    public const string Spf = "spf";
    public const string Greylist = "greylist";

    /// <summary>
    /// <c>filters:</c> when the file does not say: relay control first (so that, at RCPT, it runs
    /// before the recipient bans), then bans, unknown recipients, the DNS lists, SPF refusal (so a
    /// message refused for its SPF fail is never greylisted), and the greylist, which reads the DNS
    /// lists' answers.
    /// </summary>
    public static IReadOnlyList<string> Default { get; } = [Relay, Ban, Recipients, DnsLists, Spf, Greylist];
}
