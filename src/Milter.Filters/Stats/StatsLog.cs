using Microsoft.Extensions.Logging;
using Milter.Filters.Logging;

namespace Milter.Filters.Stats;

// Tally log lines; their event ids are in FilterEventId.
internal static partial class StatsLog
{
    [LoggerMessage(FilterEventId.TallyFlushFailed, LogLevel.Warning, "Writing {Rows} tally rows failed; they are kept for the next flush")]
    public static partial void FlushFailed(ILogger logger, int rows, Exception exception);

    [LoggerMessage(FilterEventId.TallyDropped, LogLevel.Warning, "{Dropped} decision(s) and greylist event(s) not counted in the tally so far (the database kept failing, or too many distinct rows waited)")]
    public static partial void Dropped(ILogger logger, long dropped);

    [LoggerMessage(FilterEventId.TallyFolded, LogLevel.Warning, "More than {Capacity} distinct tally rows waited: {Folded} decision(s) so far counted without their network and sender domain (as '*')")]
    public static partial void Folded(ILogger logger, int capacity, long folded);
}
