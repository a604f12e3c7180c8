namespace MilterHost.Hosting;

/// <summary>
/// Every event id Milter.Host logs with, one block per area, so that an id names one kind of line.
/// <see cref="HostLog"/>, the decision log and the status log take their ids from here.
/// </summary>
internal static class HostEventId
{
    // 5000-5099: the daemon: start, reload, stop.
    public const int Started = 5001;
    public const int Reloaded = 5002;
    public const int ReloadFailed = 5003;
    public const int Stopping = 5004;
    public const int Stopped = 5005;
    public const int RestartNeeded = 5006;
    public const int SocketNotRemoved = 5007;
    public const int ConfigWarning = 5008;
    public const int Runtime = 5009;
    public const int QuietCollected = 5010;
    public const int StartupPagesDropped = 5011;
    public const int ListenerEnded = 5012;
    public const int StoppedWhileStarting = 5013;

    // 5100-5199: the decision lines.
    public const int Decision = 5100;

    // 5200-5299: the status listener.
    public const int StatusListening = 5200;
}
