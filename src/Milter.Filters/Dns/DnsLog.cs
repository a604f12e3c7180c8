using Microsoft.Extensions.Logging;

namespace Milter.Filters.Dns;

// Event ids 3400-3499: DNS, SPF and DNS lists.
internal static partial class DnsLog
{
    [LoggerMessage(3400, LogLevel.Warning,
        "DNS lookups failed for {Client}: {Failures}; going on as if unanswered (plain greylisting, not listed){Suppressed}")]
    public static partial void LookupsFailed(ILogger logger, string client, string failures, string suppressed);

    [LoggerMessage(3402, LogLevel.Information, "DNS answers again, after {Failures} messages met DNS failures over {Lasted}")]
    public static partial void Recovered(ILogger logger, int failures, TimeSpan lasted);

    [LoggerMessage(3401, LogLevel.Debug, "{QueueId}: DNS facts for {Client}: {Facts}")]
    public static partial void Facts(ILogger logger, string queueId, string client, string facts);
}
