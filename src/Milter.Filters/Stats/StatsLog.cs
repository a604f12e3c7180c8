using Microsoft.Extensions.Logging;

namespace Milter.Filters.Stats;

// Event ids 3800-3899: the decision and greylist tallies.
internal static partial class StatsLog
{
    [LoggerMessage(3800, LogLevel.Warning, "Writing {Rows} tally rows failed; they are kept for the next flush")]
    public static partial void FlushFailed(ILogger logger, int rows, Exception exception);

    [LoggerMessage(3801, LogLevel.Warning, "The tally is full ({Capacity} entries waiting); {Dropped} decision(s) not counted so far")]
    public static partial void Dropped(ILogger logger, int capacity, long dropped);
}
