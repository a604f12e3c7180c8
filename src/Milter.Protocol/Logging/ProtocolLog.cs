using Microsoft.Extensions.Logging;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Logging;

/// <summary>The protocol layer's log lines (event ids 1000–1999). Each is written once per event, never per packet.</summary>
internal static partial class ProtocolLog
{
    [LoggerMessage(1001, LogLevel.Warning, "milter connection {ConnectionId}: closed for bad input from the MTA: {Violation} ({Detail})")]
    public static partial void BadInput(ILogger logger, long connectionId, ProtocolViolation violation, string detail);

    [LoggerMessage(1002, LogLevel.Information, "milter connection {ConnectionId}: closed after {IdleSeconds:0} s without a command")]
    public static partial void IdleTimeout(ILogger logger, long connectionId, double idleSeconds);

    [LoggerMessage(1003, LogLevel.Debug, "milter connection {ConnectionId}: the MTA went away ({Reason})")]
    public static partial void PeerGone(ILogger logger, long connectionId, string reason);

    [LoggerMessage(1004, LogLevel.Error, "milter connection {ConnectionId}: the filter failed at {Stage}; answering {Fallback}")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, long connectionId, string stage, string fallback);

    [LoggerMessage(1005, LogLevel.Error, "milter connection {ConnectionId}: the filter took longer than {TimeoutSeconds:0.#} s at {Stage}; answering {Fallback}")]
    public static partial void HandlerTimedOut(ILogger logger, long connectionId, string stage, double timeoutSeconds, string fallback);

    [LoggerMessage(1006, LogLevel.Error, "milter connection {ConnectionId}: the filter did not stop after its deadline at {Stage}; closing the connection after the on_error answer")]
    public static partial void HandlerStuck(ILogger logger, long connectionId, string stage);

    [LoggerMessage(1016, LogLevel.Warning, "milter connection {ConnectionId}: the MTA does not offer the actions {Missing} (it offered 0x{Offered:x}); "
        + "the changes that need them are left out (an X-Greylist or Received-SPF header, removing a discarded recipient)")]
    public static partial void ActionsNotOffered(ILogger logger, long connectionId, Negotiation.ActionFlags missing, uint offered);

    [LoggerMessage(1007, LogLevel.Debug, "milter connection {ConnectionId}: negotiated version {Version}, actions 0x{Actions:x}, protocol 0x{Protocol:x} (MTA offered 0x{Offered:x})")]
    public static partial void Negotiated(ILogger logger, long connectionId, uint version, uint actions, uint protocol, uint offered);

    [LoggerMessage(1010, LogLevel.Warning, "milter listener: {Refused} connection(s) refused at the cap of {Max} concurrent connections")]
    public static partial void ConnectionCapReached(ILogger logger, long refused, int max);

    [LoggerMessage(1011, LogLevel.Error, "milter listener: accept failed; still accepting")]
    public static partial void AcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(1012, LogLevel.Warning, "milter listener: {Count} session(s) still running after the shutdown grace period; cutting them off")]
    public static partial void SessionsCutOff(ILogger logger, int count);

    [LoggerMessage(1014, LogLevel.Debug, "milter connection {ConnectionId}: the MTA went away while the filter worked on {Stage}; cancelling it")]
    public static partial void PeerLeftDuringStage(ILogger logger, long connectionId, string stage);

    [LoggerMessage(1015, LogLevel.Error, "milter connection {ConnectionId}: the MTA went away while the filter worked on {Stage}, and the filter did not stop within {GraceSeconds:0.#} s of being cancelled")]
    public static partial void HandlerStuckAfterPeerLeft(ILogger logger, long connectionId, string stage, double graceSeconds);

    [LoggerMessage(1013, LogLevel.Error, "milter connection {ConnectionId}: unexpected failure; connection closed")]
    public static partial void SessionFailed(ILogger logger, Exception exception, long connectionId);
}
