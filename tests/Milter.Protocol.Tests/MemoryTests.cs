using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;
using Milter.Protocol.Tests.Support;

namespace Milter.Protocol.Tests;

/// <summary>Runs alone: it measures the process's retained memory, which parallel tests would blur.</summary>
[CollectionDefinition(nameof(MemoryTests), DisableParallelization = true)]
[Collection(nameof(MemoryTests))]
public sealed class MemoryTests
{
    [Fact]
    public async Task A_100_MB_stream_of_headers_is_processed_as_it_streams_in_bounded_memory()
    {
        const int valueSize = 16 * 1024;
        const long total = 100L * 1024 * 1024;
        var handler = new CountingHandler();
        await using var s = PipeSession.Start(handler, pipes: new PipeOptions(pauseWriterThreshold: 256 * 1024, resumeWriterThreshold: 128 * 1024, useSynchronizationContext: false));
        var mta = s.Client;
        await mta.NegotiateAsync();
        Assert.Equal(ProtocolFlags.NoReplyHeader | ProtocolFlags.Skip, mta.Negotiated!.Protocol);
        await mta.ConnectAsync("h", ConnectFamily.Inet, 1, "192.0.2.1");
        await mta.MailAsync("<a@remote.example>");
        await mta.RcptAsync("<b@example.com>");
        await mta.DataAsync();

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);

        // Frames are made on the fly straight into the pipe: "X-Flood\0" + value + NUL.
        var writer = s.ToFilter;
        var frames = 0;
        for (long sent = 0; sent < total; sent += 4 + 1 + 8 + valueSize + 1)
        {
            var span = writer.GetSpan(4 + 1 + 8 + valueSize + 1);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span, 1 + 8 + valueSize + 1);
            span[4] = (byte)'L';
            "X-Flood\0"u8.CopyTo(span[5..]);
            span.Slice(13, valueSize).Fill((byte)('a' + frames % 26));
            span[13 + valueSize] = 0;
            writer.Advance(4 + 1 + 8 + valueSize + 1);
            frames++;
            var flushed = await writer.FlushAsync().AsTask().WaitAsync(PipeSession.HangLimit);
            Assert.False(flushed.IsCompleted, "the session stopped reading");
        }

        await mta.EndOfHeadersAsync();
        var retained = GC.GetTotalMemory(forceFullCollection: true) - baseline;
        var eom = await mta.EndOfMessageAsync();
        await mta.QuitAsync();
        await s.WaitForEndAsync();

        Assert.Equal(frames, handler.Headers);
        Assert.Equal(VerdictKind.Accept, eom.Kind);
        Assert.True(retained < 8 * 1024 * 1024, $"{retained} bytes retained after {frames} headers");
        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
    }

    /// <summary>Counts headers without keeping them; answers Accept at EOM; never replies per header.</summary>
    private sealed class CountingHandler : IMilterHandler
    {
        public int Headers;

        public HandlerRequirements Requirements { get; } = new() { Replies = MilterStages.All & ~MilterStages.Header };

        public ValueTask<Verdict> OnHeaderAsync(HeaderCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
        {
            Headers++;
            return default;
        }

        public ValueTask<Verdict> OnEndOfMessageAsync(IMessageModifier modifier, MilterConnectionContext context, CancellationToken cancellationToken) =>
            new(Verdict.Accept);
    }
}
