using Microsoft.Extensions.Logging;

namespace Milter.Filters.Logging;

/// <summary>Log messages of the chain and the recipient sources; their event ids are in <see cref="FilterEventId"/>.</summary>
internal static partial class FilterLog
{
    [LoggerMessage(EventId = FilterEventId.FilterFailed, Level = LogLevel.Error,
        Message = "Filter {Filter} failed at {Stage} for client {Client} (queue id {QueueId}, sender <{Sender}>); answering per on_error: {OnError}")]
    public static partial void FilterFailed(this ILogger logger, string filter, string stage, string client, string? queueId, string? sender, string onError, Exception exception);

    [LoggerMessage(EventId = FilterEventId.FilterStillFailing, Level = LogLevel.Error,
        Message = "Filter {Filter} is still failing: {Count} more failure(s) answered per on_error since the last report")]
    public static partial void FilterStillFailing(this ILogger logger, string filter, int count);

    [LoggerMessage(EventId = FilterEventId.FilterRecovered, Level = LogLevel.Information,
        Message = "Filter {Filter} works again after {Failures} failure(s) over {Seconds:0} s")]
    public static partial void FilterRecovered(this ILogger logger, string filter, int failures, double seconds);

    [LoggerMessage(EventId = FilterEventId.FilterCleanupFailed, Level = LogLevel.Warning,
        Message = "Filter {Filter} failed while cleaning up at {Stage} for client {Client} (queue id {QueueId})")]
    public static partial void FilterCleanupFailed(this ILogger logger, string filter, string stage, string client, string? queueId, Exception exception);

    [LoggerMessage(EventId = FilterEventId.RecipientSourceLoaded, Level = LogLevel.Information, Message = "Recipient source {Source} re-read from {Path}: {Entries} entries")]
    public static partial void RecipientSourceLoaded(this ILogger logger, string source, string path, int entries);

    [LoggerMessage(EventId = FilterEventId.RecipientSourceReloadFailed, Level = LogLevel.Warning, Message = "Recipient source {Source} could not be re-read from {Path}; keeping the previous {Entries} entries")]
    public static partial void RecipientSourceReloadFailed(this ILogger logger, string source, string path, int entries, Exception exception);

    [LoggerMessage(EventId = FilterEventId.AliasFileSkipped, Level = LogLevel.Warning, Message = "recipients.sources aliases: {Note}")]
    public static partial void AliasFileSkipped(this ILogger logger, string note);

    [LoggerMessage(EventId = FilterEventId.RecipientSourceBadLine, Level = LogLevel.Warning, Message = "{Path}:{Line}: {Problem}; line ignored")]
    public static partial void RecipientSourceBadLine(this ILogger logger, string path, int line, string problem);
}
