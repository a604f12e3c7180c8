using Microsoft.Extensions.Logging;

namespace Milter.Filters.Greylist;

// Event ids 3600-3699: greylisting. (Stores: 3700-3799.)
internal static partial class GreylistLog
{
    [LoggerMessage(3600, LogLevel.Warning, "Bypass ban: {Address} ({Client}) passed greylisting, then collected {Strikes} rejections; banned until {Expires:u}, auto-whitelist dropped")]
    public static partial void BypassBan(ILogger logger, string address, string client, long strikes, DateTimeOffset expires);

    [LoggerMessage(3601, LogLevel.Debug, "{QueueId}: greylist {Triplet}: {Action} ({Rule}), held for the whole message")]
    public static partial void Held(ILogger logger, string queueId, string triplet, string action, string rule);

    [LoggerMessage(3602, LogLevel.Debug, "{QueueId}: greylist skipped for <{Recipient}>: {Reason}")]
    public static partial void Skipped(ILogger logger, string queueId, string recipient, string reason);

    [LoggerMessage(3603, LogLevel.Warning, "A refusal of {Address} could not be counted toward its bypass ban")]
    public static partial void MisbehaviourNotRecorded(ILogger logger, string address, Exception exception);
}
