using Microsoft.Extensions.Logging;
using MilterHost.Hosting;

namespace MilterHost.Status;

// The status listener's log line; its event id is in HostEventId.
internal static partial class StatusLog
{
    [LoggerMessage(HostEventId.StatusListening, LogLevel.Information, "status page, /metrics and /api/summary on http://{Endpoint}/ ({Auth})")]
    public static partial void Listening(ILogger logger, string endpoint, string auth);
}
