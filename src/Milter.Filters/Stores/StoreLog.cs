using Microsoft.Extensions.Logging;

namespace Milter.Filters.Stores;

// Event ids 3700-3799: stores. (Greylist: 3600-3699.)
internal static partial class StoreLog
{
    [LoggerMessage(3700, LogLevel.Warning, "Reloading the {What} from the store failed; keeping the copy in memory")]
    public static partial void SnapshotRefreshFailed(ILogger logger, string what, Exception exception);

    [LoggerMessage(3701, LogLevel.Information, "Store {Database} opened at schema version {Version}")]
    public static partial void Opened(ILogger logger, string database, int version);

    [LoggerMessage(3702, LogLevel.Information, "Dynamic ban {Network} until {Expires:u} ({Source}: {Reason})")]
    public static partial void BanAdded(ILogger logger, string network, DateTimeOffset expires, string source, string reason);

    [LoggerMessage(3703, LogLevel.Information, "Dynamic ban {Network} removed")]
    public static partial void BanRemoved(ILogger logger, string network);

    [LoggerMessage(3704, LogLevel.Debug, "Swept {Rows} expired rows")]
    public static partial void Swept(ILogger logger, int rows);

    [LoggerMessage(3705, LogLevel.Warning, "Sweeping expired rows failed; trying again next period")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(3707, LogLevel.Debug, "Re-read what another process changed in the store: {Changed}")]
    public static partial void ChangesReloaded(ILogger logger, string changed);

    [LoggerMessage(3708, LogLevel.Warning, "Asking the store for changes made by other processes failed; trying again every poll")]
    public static partial void ChangePollFailed(ILogger logger, Exception exception);

    [LoggerMessage(3709, LogLevel.Information, "The store answers change polls again")]
    public static partial void ChangePollRecovered(ILogger logger);

    [LoggerMessage(3706, LogLevel.Warning, "Writing {Count} deferred lifetime extensions failed; they are dropped and queued again on later hits")]
    public static partial void FlushFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(3707, LogLevel.Error, "The database file of {Database} was removed while in use; starting a new, empty one (greylisting starts over)")]
    public static partial void FileRemoved(ILogger logger, string database);

    [LoggerMessage(3710, LogLevel.Warning, "Store {Database} re-created at schema version {Version}")]
    public static partial void FileRecreated(ILogger logger, string database, int version);

    [LoggerMessage(3711, LogLevel.Warning, "Writing {Count} greylist attempts failed; they were answered and are dropped (those senders are deferred once more)")]
    public static partial void AttemptsLost(ILogger logger, int count, Exception exception);

    [LoggerMessage(3712, LogLevel.Warning, "{Count} greylist attempts queued before writes began to fail are dropped (those senders are deferred once more)")]
    public static partial void AttemptsDropped(ILogger logger, int count);

    [LoggerMessage(3713, LogLevel.Warning, "Checkpointing the write-ahead log of {Database} failed; trying again later")]
    public static partial void CheckpointFailed(ILogger logger, string database, Exception exception);
}
