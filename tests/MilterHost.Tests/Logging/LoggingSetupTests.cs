using System.Reflection;
using Milter.Filters.Configuration;
using MilterHost.Configuration;
using MilterHost.Logging;
using NLog;
using NLog.Layouts;
using NLog.Targets;
using NLog.Targets.Wrappers;

namespace MilterHost.Tests.Logging;

public sealed class LoggingSetupTests
{
    [Fact]
    public void A_burst_of_more_lines_than_the_queue_holds_reaches_the_file_whole_and_in_order()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("milterhost.log");
        var factory = new LogFactory { Configuration = LoggingSetup.Build(new LogOptions { Syslog = false, File = path }, console: false) };
        var logger = factory.GetLogger("milterhost");
        var lines = LoggingSetup.QueuedLines * 3;

        // Faster than the writer can keep up: past the queue's limit the logging thread waits, nothing is dropped.
        for (var i = 0; i < lines; i++)
            logger.Info("decision {Index}", i);
        factory.Shutdown();

        var written = File.ReadAllLines(path);
        Assert.Equal(lines, written.Length);
        Assert.EndsWith("INFO  decision 0", written[0], StringComparison.Ordinal);
        Assert.EndsWith($"INFO  decision {lines - 1}", written[^1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("off", new string[0])]
    [InlineData("warn", new[] { "WARN  warning", "ERROR error" })]
    [InlineData("warning", new[] { "WARN  warning", "ERROR error" })]
    [InlineData("info", new[] { "INFO  info", "WARN  warning", "ERROR error" })]
    public void The_level_of_the_configuration_decides_which_lines_reach_the_file(string level, string[] expected)
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("milterhost.log");
        var factory = new LogFactory { Configuration = LoggingSetup.Build(new LogOptions { Level = level, Syslog = false, File = path }, console: false) };
        var logger = factory.GetLogger("milterhost");

        logger.Debug("debug");
        logger.Info("info");
        logger.Warn("warning");
        logger.Error("error");
        factory.Shutdown();

        var written = File.Exists(path) ? File.ReadAllLines(path) : [];
        Assert.Equal(expected, written.Select(line => line[(line.IndexOf(' ', line.IndexOf(' ', StringComparison.Ordinal) + 1) + 1)..]));
    }

    [Fact]
    public void A_message_quoting_a_client_reaches_the_file_as_one_line_without_control_characters()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("milterhost.log");
        var factory = new LogFactory { Configuration = LoggingSetup.Build(new LogOptions { Syslog = false, File = path }, console: false) };
        var logger = factory.GetLogger("milterhost");

        // A sender sendmail accepts (a quoted local part): it retitles and recolours a terminal, and its CR and LF would forge a line.
        const string Sender = "\"\u001b]0;owned\u0007\u001b[41mx\rFAKE\nDec  6 mx sendmail: ok\u202e\"@evil.example";
        logger.Error(new InvalidOperationException("store down"), "Filter greylist failed for sender <" + Sender + ">");
        logger.Info("decision from=<alice@example.org> reply=\"451 4.7.1 Greylisted\"");
        factory.Shutdown();

        var text = File.ReadAllText(path);
        var lines = text.TrimEnd('\n').Split('\n');
        Assert.EndsWith(
            "ERROR Filter greylist failed for sender <\"\\x1b]0;owned\\x07\\x1b[41mx\\x0dFAKE\\x0aDec  6 mx sendmail: ok\\u202e\"@evil.example>", lines[0], StringComparison.Ordinal);
        // The exception's own lines follow (ours); the plain line is written as it came.
        Assert.Equal("System.InvalidOperationException: store down", lines[1]);
        Assert.EndsWith("INFO  decision from=<alice@example.org> reply=\"451 4.7.1 Greylisted\"", lines[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(text, c => c is '\u001b' or '\u0007' or '\r' or '\u202e');
    }

    [Fact]
    public void Lines_for_the_file_and_syslog_are_rendered_by_the_queue_s_writer_not_by_the_thread_that_logs()
    {
        using var dir = new TempDirectory();
        var factory = new LogFactory { Configuration = LoggingSetup.Build(new LogOptions { Syslog = true, File = dir.Combine("milterhost.log") }, console: false) };

        // NLog renders at once, on the logging thread (a socket thread for a decision line), every
        // layout it cannot tell is thread-agnostic; a thread-agnostic one waits for the writer.
        // NLog keeps that judgement in an internal property. (The syslog target connects on its
        // first line, not here.)
        var file = Assert.IsType<FileTarget>(Queue(factory, "file-queue").WrappedTarget);
        Assert.True(ThreadAgnostic(file.Layout));
        Assert.True(ThreadAgnostic(file.FileName));
        var syslog = Assert.IsType<SyslogTarget>(Queue(factory, "syslog-queue").WrappedTarget);
        Assert.True(ThreadAgnostic(syslog.Layout));
        factory.Shutdown();
    }

    private static AsyncTargetWrapper Queue(LogFactory factory, string name) =>
        Assert.IsType<AsyncTargetWrapper>(factory.Configuration!.FindTargetByName<AsyncTargetWrapper>(name));

    private static bool ThreadAgnostic(Layout layout)
    {
        var property = typeof(Layout).GetProperty("ThreadAgnostic", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        Assert.NotNull(property);
        return (bool)property.GetValue(layout)!;
    }
}
