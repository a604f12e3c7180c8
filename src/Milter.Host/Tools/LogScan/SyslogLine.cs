namespace MilterHost.Tools.LogScan;

/// <summary>One syslog line taken apart: <c>TIMESTAMP HOST PROGRAM[PID]: MESSAGE</c>.</summary>
internal readonly record struct SyslogLine(DateTimeOffset Timestamp, string Host, string Program, int? Pid, string Message);
