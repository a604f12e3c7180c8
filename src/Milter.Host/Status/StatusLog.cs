using Microsoft.Extensions.Logging;

namespace MilterHost.Status;

// Event ids 5200-5299: the status listener.
internal static partial class StatusLog
{
    [LoggerMessage(5200, LogLevel.Information, "status page, /metrics and /api/summary on http://{Endpoint}/ ({Auth})")]
    public static partial void Listening(ILogger logger, string endpoint, string auth);
}
