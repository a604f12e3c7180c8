using System.Globalization;
using System.Net.Sockets;
using System.Text;
using NLog;
using NLog.Targets;

namespace MilterHost.Logging;

/// <summary>
/// Writes log lines to the local syslog socket (/dev/log) with facility mail, in the format glibc's
/// syslog(3) uses, so milterhost's decisions land in /var/log/maillog beside sendmail's own lines.
/// NLog has no syslog target of its own; this is the few lines it takes.
/// </summary>
[Target("MilterSyslog")]
internal sealed class SyslogTarget : TargetWithLayout
{
    private const int FacilityMail = 2;
    private Socket? _socket;

    /// <summary>The syslog socket path.</summary>
    public string SocketPath { get; set; } = "/dev/log";

    /// <summary>The tag before <c>[pid]:</c>.</summary>
    public string Tag { get; set; } = "milterhost";

    protected override void Write(LogEventInfo logEvent)
    {
        var severity = logEvent.Level.Ordinal switch
        {
            >= 5 => 2, // Fatal -> crit
            4 => 3,    // Error -> err
            3 => 4,    // Warn -> warning
            2 => 6,    // Info -> info
            _ => 7,    // Debug, Trace -> debug
        };
        var stamp = logEvent.TimeStamp.ToLocalTime().ToString("MMM d HH:mm:ss", CultureInfo.InvariantCulture);
        // syslog(3) pads a one-digit day with a space: "Nov  1".
        if (stamp[5] == ' ') stamp = stamp.Insert(4, " ");
        var message = RenderLogEvent(Layout, logEvent).Replace('\n', ' ');
        var line = $"<{FacilityMail * 8 + severity}>{stamp} {Tag}[{Environment.ProcessId}]: {message}";
        var bytes = Encoding.UTF8.GetBytes(line);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                _socket ??= Connect();
                _socket.Send(bytes);
                return;
            }
            catch (SocketException)
            {
                // syslogd restarted: reconnect once; if it is gone, the line is lost, as with syslog(3).
                _socket?.Dispose();
                _socket = null;
            }
        }
    }

    protected override void CloseTarget()
    {
        _socket?.Dispose();
        _socket = null;
        base.CloseTarget();
    }

    private Socket Connect()
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            s.Connect(new UnixDomainSocketEndPoint(SocketPath));
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }
}
