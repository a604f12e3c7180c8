using Microsoft.Extensions.Logging;
using Milter.Filters.Logging;

namespace Milter.Filters.Greylist;

// Greylist log lines; their event ids are in FilterEventId.
internal static partial class GreylistLog
{
    [LoggerMessage(FilterEventId.BypassBan, LogLevel.Warning, "Bypass ban: {Address} ({Client}) passed greylisting, then collected {Strikes} rejections; banned until {Expires:u}, auto-whitelist dropped")]
    public static partial void BypassBan(ILogger logger, string address, string client, long strikes, DateTimeOffset expires);

    [LoggerMessage(FilterEventId.GreylistHeld, LogLevel.Debug, "{QueueId}: greylist {Triplet}: {Action} ({Rule}), held for the whole message")]
    public static partial void Held(ILogger logger, string queueId, string triplet, string action, string rule);

    [LoggerMessage(FilterEventId.GreylistSkipped, LogLevel.Debug, "{QueueId}: greylist skipped for <{Recipient}>: {Reason}")]
    public static partial void Skipped(ILogger logger, string queueId, string recipient, string reason);

    [LoggerMessage(FilterEventId.MisbehaviourNotRecorded, LogLevel.Warning, "A refusal of {Address} could not be counted toward its bypass ban")]
    public static partial void MisbehaviourNotRecorded(ILogger logger, string address, Exception exception);

    [LoggerMessage(FilterEventId.AutoWhitelistUncountFailed, LogLevel.Warning,
        "{QueueId}: the auto-whitelist pass of {Triplet}, whose message was deferred at DATA, could not be taken back; its retry will count a second one")]
    public static partial void UncountFailed(ILogger logger, string queueId, string triplet, Exception exception);

    [LoggerMessage(FilterEventId.KeyFilterReady, LogLevel.Information, "Greylist key filter ready: {Keys} keys read from the database in {Seconds:F1} s")]
    public static partial void KeyFilterReady(ILogger logger, long keys, double seconds);

    [LoggerMessage(FilterEventId.KeyFilterReadyCompacted, LogLevel.Information,
        "Greylist key filter ready: {Keys} keys read from the database in {Seconds:F1} s; the memory the reading used given back to the system in {PauseMs:F0} ms")]
    public static partial void KeyFilterReadyCompacted(ILogger logger, long keys, double seconds, double pauseMs);
}
