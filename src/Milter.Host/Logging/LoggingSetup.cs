using Milter.Filters.Configuration;
using MilterHost.Configuration;
using NLog;
using NLog.Config;
using NLog.LayoutRenderers;
using NLog.Targets;
using NLog.Targets.Wrappers;

namespace MilterHost.Logging;

/// <summary>Builds the NLog configuration from <c>log:</c> — syslog (facility mail), a file, and the console when interactive.</summary>
internal static class LoggingSetup
{
    public static LoggingConfiguration Build(LogOptions options, bool console)
    {
        // Registered before the layouts below are read, which look it up by name. Thread-agnostic (its
        // value is the event's own formatted message), so that every layout here is: the queue in
        // front of syslog and the file (Behind) then renders lines on its writer, where a layout NLog
        // cannot place would be rendered at once, on the socket thread that logged the decision.
        LogManager.Setup().SetupExtensions(extensions => extensions.RegisterLayoutRenderer(static () => new SafeMessageRenderer(), SafeMessage));
        var config = new LoggingConfiguration();
        var minimum = ParseLevel(options.Level);
        if (options.Syslog)
        {
            var syslog = new SyslogTarget { Name = "syslog", Layout = "${" + SafeMessage + "}${onexception: ${exception:format=shortType,message}}" };
            config.AddRule(minimum, LogLevel.Fatal, Behind(syslog));
        }
        if (options.File is { } path)
        {
            var file = new FileTarget("file")
            {
                FileName = path,
                Layout = "${longdate} ${level:uppercase=true:padding=-5} ${" + SafeMessage + "}${onexception:${newline}${exception:format=tostring}}",
                KeepFileOpen = true,
            };
            config.AddRule(minimum, LogLevel.Fatal, Behind(file));
        }
        if (console)
        {
            var stderr = new ConsoleTarget("console")
            {
                Layout = "${time} ${level:uppercase=true:padding=-5} ${" + SafeMessage + "}${onexception:${newline}${exception:format=tostring}}",
                StdErr = true,
            };
            var rule = new LoggingRule("*", minimum, LogLevel.Fatal, stderr) { FilterDefaultAction = NLog.Filters.FilterResult.Log };
            // The refusal to start is printed on stderr as a plain line of its own; the console need not say it twice.
            rule.Filters.Add(new NLog.Filters.WhenEqualFilter { Layout = "${logger}", CompareTo = StartupLogger, Action = NLog.Filters.FilterResult.Ignore });
            config.LoggingRules.Add(rule);
        }
        return config;
    }

    /// <summary>
    /// Syslog and the file are written off the socket threads, from a queue that a timer empties on
    /// the thread pool (NLog's AsyncTargetWrapper): a session logs its decision from the
    /// socket's event thread, which a slow disk or a syslogd that stopped reading /dev/log would
    /// otherwise hold up, and every connection of that thread with it; the file also gets its lines
    /// in batches. Past <see cref="QueuedLines"/> waiting lines the logging session waits (nothing
    /// is dropped); the daemon's shutdown flushes the queue (LogManager.Shutdown).
    /// </summary>
    private static AsyncTargetWrapper Behind(Target target) => new(target.Name + "-queue", target)
    {
        QueueLimit = QueuedLines,
        OverflowAction = AsyncTargetWrapperOverflowAction.Block,
    };

    /// <summary>
    /// The message as every target writes it: made printable (<see cref="PrintableText"/>), since many
    /// lines quote what a client sent (its HELO name, the sender of a failed check, an SPF record), and
    /// a control character in a log line would reach whoever reads it with <c>tail -f</c>, or split the
    /// line in two. The decision line is escaped where it is made and passes unchanged.
    /// </summary>
    public const string SafeMessage = "milterhost-message";

    /// <summary>The layout renderer of <see cref="SafeMessage"/>.</summary>
    [ThreadAgnostic]
    private sealed class SafeMessageRenderer : LayoutRenderer
    {
        protected override void Append(System.Text.StringBuilder builder, LogEventInfo logEvent) =>
            builder.Append(PrintableText.Of(logEvent.FormattedMessage));
    }

    /// <summary>Log lines waiting for syslog or the file, at most, before a logging session waits.</summary>
    public const int QueuedLines = 10_000;

    /// <summary>The logger of the "not starting" line, which goes to syslog and the file but not the console.</summary>
    public const string StartupLogger = "milterhost.start";

    /// <summary>A level the schema accepted (ConfigSchema's <c>log.level</c>; <c>warning</c> is syslog's word for <c>warn</c>) as NLog's.</summary>
    public static LogLevel ParseLevel(string level) => level.ToLowerInvariant() switch
    {
        "off" => LogLevel.Off,
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Info,
        "warn" or "warning" => LogLevel.Warn,
        "error" => LogLevel.Error,
        "fatal" => LogLevel.Fatal,
        _ => throw new ArgumentOutOfRangeException(nameof(level), level, "not a level of the schema"),
    };
}
