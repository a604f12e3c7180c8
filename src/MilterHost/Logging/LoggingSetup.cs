using Milter.Filters.Configuration;
using NLog;
using NLog.Config;
using NLog.Targets;

namespace MilterHost.Logging;

/// <summary>Builds the NLog configuration from <c>log:</c> — syslog (facility mail), a file, and the console when interactive.</summary>
internal static class LoggingSetup
{
    public static LoggingConfiguration Build(LogOptions options, bool console)
    {
        var config = new LoggingConfiguration();
        var minimum = ParseLevel(options.Level);
        if (options.Syslog)
        {
            var syslog = new SyslogTarget { Name = "syslog", Layout = "${message}${onexception: ${exception:format=shortType,message}}" };
            config.AddRule(minimum, LogLevel.Fatal, syslog);
        }
        if (options.File is { } path)
        {
            var file = new FileTarget("file")
            {
                FileName = path,
                Layout = "${longdate} ${level:uppercase=true:padding=-5} ${message}${onexception:${newline}${exception:format=tostring}}",
                KeepFileOpen = true,
            };
            config.AddRule(minimum, LogLevel.Fatal, file);
        }
        if (console)
        {
            var stderr = new ConsoleTarget("console")
            {
                Layout = "${time} ${level:uppercase=true:padding=-5} ${message}${onexception:${newline}${exception:format=tostring}}",
                StdErr = true,
            };
            var rule = new LoggingRule("*", minimum, LogLevel.Fatal, stderr) { FilterDefaultAction = NLog.Filters.FilterResult.Log };
            // The refusal to start is printed on stderr as a plain line of its own; the console need not say it twice.
            rule.Filters.Add(new NLog.Filters.WhenEqualFilter { Layout = "${logger}", CompareTo = StartupLogger, Action = NLog.Filters.FilterResult.Ignore });
            config.LoggingRules.Add(rule);
        }
        return config;
    }

    /// <summary>The logger of the "not starting" line, which goes to syslog and the file but not the console.</summary>
    public const string StartupLogger = "milterhost.start";

    /// <summary><c>debug</c>, <c>info</c>, <c>warning</c>, <c>error</c> (also NLog's names).</summary>
    public static LogLevel ParseLevel(string level) => level.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "info" or "information" => LogLevel.Info,
        "warn" or "warning" => LogLevel.Warn,
        "error" => LogLevel.Error,
        "critical" or "fatal" => LogLevel.Fatal,
        _ => LogLevel.Info,
    };
}
