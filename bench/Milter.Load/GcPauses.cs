using System.Diagnostics;
using System.Diagnostics.Tracing;

namespace Milter.Load;

/// <summary>
/// This process's own collections, each from the moment the runtime began to stop its threads to the
/// moment it let them go on, on the <see cref="Stopwatch"/> clock the latency log uses. While one lasts
/// no connection of the generator sends or reads anything: time in a message's latency that is the
/// generator's, not the filter's (sendmail has no collector).
/// </summary>
internal sealed class GcPauses : EventListener
{
    private const int GcStart = 1;
    private const int GcRestartEEEnd = 3;
    private const int GcSuspendEEBegin = 9;
    private const EventKeywords GcKeyword = (EventKeywords)0x1;

    // Set before the base constructor runs, which may already report the runtime's event source.
    private readonly DateTime _wallAtStart = DateTime.UtcNow;
    private readonly long _stampAtStart = Stopwatch.GetTimestamp();
    private readonly Lock _lock = new();
    private readonly List<(long Start, long End, int Generation)> _pauses = [];
    private long _suspended = -1;
    private int _generation = -1;

    /// <summary>The pauses seen so far, in order.</summary>
    public IReadOnlyList<(long Start, long End, int Generation)> Pauses
    {
        get
        {
            lock (_lock)
                return [.. _pauses];
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(eventSource, EventLevel.Informational, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        // Delivered later, on a thread of the runtime's: placed by the event's own time.
        var at = _stampAtStart + (long)((eventData.TimeStamp.ToUniversalTime() - _wallAtStart).TotalSeconds * Stopwatch.Frequency);
        lock (_lock)
        {
            switch (eventData.EventId)
            {
                case GcSuspendEEBegin:
                    _suspended = at;
                    _generation = -1;
                    break;
                case GcStart when eventData.Payload is { Count: > 1 } payload && payload[1] is uint depth:
                    _generation = (int)depth;
                    break;
                case GcRestartEEEnd when _suspended >= 0:
                    _pauses.Add((_suspended, at, _generation));
                    _suspended = -1;
                    break;
            }
        }
    }
}
