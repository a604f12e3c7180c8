using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Milter.TestSupport;

namespace EndToEnd.Tests;

public sealed class SyslogSinkTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly string _directory = Directory.CreateTempSubdirectory("syslog-sink-").FullName;
    private readonly FakeTimeProvider _time = new();
    private SyslogSink? _sink;

    private SyslogSink Sink => _sink!;

    public async Task InitializeAsync() => _sink = await SyslogSink.StartAsync(_directory, _time);

    public async Task DisposeAsync()
    {
        await Sink.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Process_started_through_the_sink_logs_into_it_via_dev_log()
    {
        var tag = "e2e" + Guid.NewGuid().ToString("N")[..8];
        using (var logger = Process.Start(Sink.CreateStartInfo("logger", ["-t", tag, "hello from", "logger"]))!)
        {
            await logger.WaitForExitAsync();
            Assert.Equal(0, logger.ExitCode);
        }

        var line = await Sink.WaitForLineAsync(l => l.Contains(tag, StringComparison.Ordinal), Bound);

        Assert.Matches($"^[A-Z][a-z]{{2}} [ 0-9][0-9] [0-9:]{{8}} {Environment.MachineName} {tag}: hello from logger$", line);
        Assert.Equal([line], await File.ReadAllLinesAsync(Sink.LogFilePath));
    }

    [Fact]
    public async Task Syslog_priority_is_dropped_and_host_name_inserted_while_other_text_passes_unchanged()
    {
        Send("<22>Nov 29 02:35:27 sendmail[42]: 6AT2ZRNr009514: from=<a@remote.example>\n");
        Send("not a syslog message");

        await Sink.WaitForLineAsync(l => l == "not a syslog message", Bound);

        Assert.Equal(
            [$"Nov 29 02:35:27 {Environment.MachineName} sendmail[42]: 6AT2ZRNr009514: from=<a@remote.example>", "not a syslog message"],
            Sink.Lines);
    }

    [Fact]
    public async Task Waiting_for_a_line_that_never_comes_times_out_on_the_injected_clock()
    {
        Send("<22>Nov 29 02:35:27 sendmail[42]: unrelated");
        await Sink.WaitForLineAsync(l => l.Contains("unrelated", StringComparison.Ordinal), Bound);

        var waiting = Sink.WaitForLineAsync(l => l.Contains("never", StringComparison.Ordinal), TimeSpan.FromMinutes(5));
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromMinutes(5));

        var error = await Assert.ThrowsAsync<TimeoutException>(() => waiting);
        Assert.Contains("No matching syslog line within 300 s", error.Message, StringComparison.Ordinal);
        Assert.Contains("sendmail[42]: unrelated", error.Message, StringComparison.Ordinal);
    }

    private void Send(string message)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.SendTo(Encoding.UTF8.GetBytes(message), new UnixDomainSocketEndPoint(Sink.SocketPath));
    }
}
