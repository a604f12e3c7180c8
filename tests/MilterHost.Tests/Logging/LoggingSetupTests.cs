using Milter.Filters.Configuration;
using MilterHost.Configuration;
using MilterHost.Logging;
using NLog;

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
}
