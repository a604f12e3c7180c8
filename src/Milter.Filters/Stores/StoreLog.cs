using Microsoft.Extensions.Logging;
using Milter.Filters.Logging;

namespace Milter.Filters.Stores;

// Store log lines; their event ids are in FilterEventId.
internal static partial class StoreLog
{
    [LoggerMessage(FilterEventId.SnapshotRefreshFailed, LogLevel.Warning, "Reloading the {What} from the store failed; keeping the copy in memory")]
    public static partial void SnapshotRefreshFailed(ILogger logger, string what, Exception exception);

    [LoggerMessage(FilterEventId.StoreOpened, LogLevel.Information, "Store {Database} opened at schema version {Version}")]
    public static partial void Opened(ILogger logger, string database, int version);

    [LoggerMessage(FilterEventId.BanAdded, LogLevel.Information, "Dynamic ban {Network} until {Expires:u} ({Source}: {Reason})")]
    public static partial void BanAdded(ILogger logger, string network, DateTimeOffset expires, string source, string reason);

    [LoggerMessage(FilterEventId.BanRemoved, LogLevel.Information, "Dynamic ban {Network} removed")]
    public static partial void BanRemoved(ILogger logger, string network);

    [LoggerMessage(FilterEventId.Swept, LogLevel.Debug, "Swept {Rows} expired rows")]
    public static partial void Swept(ILogger logger, int rows);

    [LoggerMessage(FilterEventId.SweepPostponed, LogLevel.Warning,
        "The clock moved {Jump} further than time passed since the last sweep; expired rows are deleted one period later, in case the clock is stepped back")]
    public static partial void SweepPostponed(ILogger logger, TimeSpan jump);

    [LoggerMessage(FilterEventId.SweepFailed, LogLevel.Warning, "Sweeping expired rows failed; trying again next period")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(FilterEventId.ChangesReloaded, LogLevel.Debug, "Re-read what another process changed in the store: {Changed}")]
    public static partial void ChangesReloaded(ILogger logger, string changed);

    [LoggerMessage(FilterEventId.ChangePollFailed, LogLevel.Warning, "Asking the store for changes made by other processes failed; trying again every poll")]
    public static partial void ChangePollFailed(ILogger logger, Exception exception);

    [LoggerMessage(FilterEventId.ChangePollRecovered, LogLevel.Information, "The store answers change polls again")]
    public static partial void ChangePollRecovered(ILogger logger);

    [LoggerMessage(FilterEventId.TouchFlushFailed, LogLevel.Warning, "Writing {Count} deferred lifetime extensions failed; they are dropped and queued again on later hits")]
    public static partial void FlushFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(FilterEventId.DatabaseFileRemoved, LogLevel.Error, "The database file of {Database} was removed while in use; starting a new, empty one (greylisting starts over)")]
    public static partial void FileRemoved(ILogger logger, string database);

    [LoggerMessage(FilterEventId.DatabaseFileReplaced, LogLevel.Warning, "The database file of {Database} was replaced while in use (another file renamed over it); writing to the new one from now on")]
    public static partial void FileReplaced(ILogger logger, string database);

    [LoggerMessage(FilterEventId.DatabaseFileRecreated, LogLevel.Warning, "Store {Database} re-created at schema version {Version}")]
    public static partial void FileRecreated(ILogger logger, string database, int version);

    [LoggerMessage(FilterEventId.AttemptsLost, LogLevel.Warning, "Writing {Count} greylist attempts failed; they were answered and are dropped (those senders are deferred once more)")]
    public static partial void AttemptsLost(ILogger logger, int count, Exception exception);

    [LoggerMessage(FilterEventId.AttemptsDropped, LogLevel.Warning, "{Count} greylist attempts queued before writes began to fail are dropped (those senders are deferred once more)")]
    public static partial void AttemptsDropped(ILogger logger, int count);

    [LoggerMessage(FilterEventId.CheckpointFailed, LogLevel.Warning, "Checkpointing the write-ahead log of {Database} failed; trying again later")]
    public static partial void CheckpointFailed(ILogger logger, string database, Exception exception);
}
