using Microsoft.Extensions.Logging;
using Milter.Filters.Logging;

namespace Milter.Filters.Dns;

// DNS, SPF and DNS list log lines; their event ids are in FilterEventId.
internal static partial class DnsLog
{
    [LoggerMessage(FilterEventId.DnsLookupsFailed, LogLevel.Warning,
        "DNS lookups failed for {Client}: {Failures}; going on as if unanswered (plain greylisting, not listed){Suppressed}")]
    public static partial void LookupsFailed(ILogger logger, string client, string failures, string suppressed);

    [LoggerMessage(FilterEventId.DnsRecovered, LogLevel.Information, "DNS answers again, after {Failures} messages met DNS failures over {Lasted}")]
    public static partial void Recovered(ILogger logger, int failures, TimeSpan lasted);

    [LoggerMessage(FilterEventId.DnsFacts, LogLevel.Debug, "{QueueId}: DNS facts for {Client}: {Facts}")]
    public static partial void Facts(ILogger logger, string queueId, string client, string facts);
}
