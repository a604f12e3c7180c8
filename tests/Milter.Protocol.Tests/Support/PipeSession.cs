using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Time.Testing;
using Milter.Protocol.Client;
using Milter.Protocol.Session;

namespace Milter.Protocol.Tests.Support;

/// <summary>
/// A <see cref="MilterSession"/> over a pair of in-memory pipes: the test plays the MTA by writing to
/// <see cref="ToFilter"/> (raw bytes) or through <see cref="Client"/> (the library's MTA half).
/// </summary>
public sealed class PipeSession : IAsyncDisposable
{
    /// <summary>How long a test waits for something that should be immediate before calling it a hang.</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(10);

    private readonly Pipe _toFilter;
    private readonly Pipe _toMta;
    private readonly CancellationTokenSource _stop = new();

    private PipeSession(IMilterHandler handler, SessionOptions options, TimeProvider time, PipeOptions pipeOptions)
    {
        _toFilter = new Pipe(pipeOptions);
        _toMta = new Pipe(pipeOptions);
        Handler = handler;
        Logger = new CapturingLogger();
        Session = new MilterSession(new DuplexPipe(_toFilter.Reader, _toMta.Writer), handler, options, time, Logger, connectionId: 7);
        Client = new MilterClient(new DuplexPipe(_toMta.Reader, _toFilter.Writer));
    }

    /// <summary>
    /// Inline pipes without back-pressure: each flush by the test runs the session until it waits
    /// for input again, so a split write is seen split. Good for replay and hostile-input tests.
    /// </summary>
    public static PipeOptions Inline { get; } = new(
        readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 0, useSynchronizationContext: false);

    /// <summary>Thread-pool pipes with the default back-pressure, as a socket transport behaves.</summary>
    public static PipeOptions Threaded { get; } = new(useSynchronizationContext: false);

    public IMilterHandler Handler { get; }

    public CapturingLogger Logger { get; }

    public MilterSession Session { get; }

    /// <summary>The MTA side through the library's own client.</summary>
    public MilterClient Client { get; }

    /// <summary>The session's task; started by <see cref="Start"/>.</summary>
    public Task Run { get; private set; } = Task.CompletedTask;

    /// <summary>Bytes to the filter.</summary>
    public PipeWriter ToFilter => _toFilter.Writer;

    /// <summary>Bytes from the filter.</summary>
    public PipeReader FromFilter => _toMta.Reader;

    public static PipeSession Start(IMilterHandler handler, SessionOptions? options = null, TimeProvider? time = null, PipeOptions? pipes = null)
    {
        var s = Create(handler, options, time, pipes);
        s.Run = s.Session.RunAsync(s._stop.Token);
        return s;
    }

    /// <summary>Builds the session without starting it (to fill the input first).</summary>
    public static PipeSession Create(IMilterHandler handler, SessionOptions? options = null, TimeProvider? time = null, PipeOptions? pipes = null) =>
        new(handler, options ?? new SessionOptions(), time ?? new FakeTimeProvider(), pipes ?? Inline);

    /// <summary>Starts a session built by <see cref="Create"/>.</summary>
    public Task StartRun()
    {
        Run = Session.RunAsync(_stop.Token);
        return Run;
    }

    /// <summary>Writes and flushes bytes to the filter.</summary>
    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        await _toFilter.Writer.WriteAsync(bytes);
    }

    /// <summary>The hard stop the server gives its sessions after the shutdown grace.</summary>
    public Task HardStopAsync() => _stop.CancelAsync();

    /// <summary>The MTA hangs up (EOF on the filter's input).</summary>
    public ValueTask EndInputAsync() => _toFilter.Writer.CompleteAsync();

    /// <summary>Waits for the session to end, failing the test if it does not within <see cref="HangLimit"/>.</summary>
    public async Task WaitForEndAsync()
    {
        try
        {
            await Run.WaitAsync(HangLimit);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the session did not end within {HangLimit.TotalSeconds} s; log: {string.Join(" | ", Logger.Entries)}");
        }
    }

    /// <summary>Everything the filter wrote, read until it closed its side.</summary>
    public async Task<byte[]> ReadAllOutputAsync()
    {
        var reader = _toMta.Reader;
        using var timeout = new CancellationTokenSource(HangLimit);
        while (true)
        {
            var result = await reader.ReadAsync(timeout.Token);
            if (result.IsCompleted)
            {
                var all = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                return all;
            }
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>
    /// Feeds <paramref name="chunks"/> (each written and flushed on its own), ends the input, waits
    /// for the session to end and returns everything it wrote.
    /// </summary>
    public static async Task<(byte[] Output, PipeSession Session)> FeedAsync(IMilterHandler handler, IEnumerable<ReadOnlyMemory<byte>> chunks, SessionOptions? options = null)
    {
        var s = Start(handler, options);
        foreach (var chunk in chunks)
            await s.SendAsync(chunk);
        await s.EndInputAsync();
        await s.WaitForEndAsync();
        return (await s.ReadAllOutputAsync(), s);
    }

    public static Task<(byte[] Output, PipeSession Session)> FeedAsync(IMilterHandler handler, byte[] whole, SessionOptions? options = null) =>
        FeedAsync(handler, [whole], options);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Run.WaitAsync(HangLimit).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _toFilter.Writer.CompleteAsync();
        await _toMta.Reader.CompleteAsync();
        _stop.Dispose();
    }
}
