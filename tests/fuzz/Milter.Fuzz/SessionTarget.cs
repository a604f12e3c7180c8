using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Time.Testing;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Fuzz;

/// <summary>
/// One fuzz input is the byte stream an MTA sends on one milter connection. It is fed to a real
/// <see cref="MilterSession"/> (frame decoder, command codecs, state machine, reply writer) over
/// in-memory pipes, in small slices so frames and length words straddle reads. Anything the
/// session's contract forbids is thrown as a <see cref="FuzzFinding"/>, which the fuzzer records
/// as a crash: an exception escaping <c>RunAsync</c>, an "unexpected failure" it had to catch
/// itself, a session that does not end once the input ends, or a reply frame that does not decode.
/// </summary>
internal static class SessionTarget
{
    // Prime, so slice edges wander across frame boundaries and length words.
    private const int SliceSize = 61;
    private const int MaxFrameSize = 64 * 1024 + 64;
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(10);

    private static readonly PipeOptions Pipes = new(
        readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 0, useSynchronizationContext: false);

    public static void Run(ReadOnlySpan<byte> input)
    {
        var toFilter = new Pipe(Pipes);
        var toMta = new Pipe(Pipes);
        var log = new TrapLogger();
        var options = new SessionOptions { Limits = new() { MaxFrameSize = MaxFrameSize, MaxMacrosPerPacket = 64 } };
        var session = new MilterSession(new DuplexPipe(toFilter.Reader, toMta.Writer), new FuzzHandler(), options, new FakeTimeProvider(), log, connectionId: 1);
        var run = session.RunAsync(CancellationToken.None);

        for (var offset = 0; offset < input.Length && !run.IsCompleted; offset += SliceSize)
        {
            var slice = input.Slice(offset, Math.Min(SliceSize, input.Length - offset));
            toFilter.Writer.Write(slice);
            // Inline schedulers: the session handles what it can before the flush returns.
            var flush = toFilter.Writer.FlushAsync();
            if (!flush.IsCompleted)
                flush.AsTask().Wait(HangLimit);
        }
        toFilter.Writer.Complete();

        try
        {
            if (!run.Wait(HangLimit))
                throw new FuzzFinding($"the session did not end within {HangLimit.TotalSeconds:0} s of its input ending");
        }
        catch (AggregateException e)
        {
            throw new FuzzFinding("an exception escaped MilterSession.RunAsync", e.InnerException ?? e);
        }
        if (log.Unexpected is { } unexpected)
            throw new FuzzFinding("the session logged an unexpected failure", unexpected);

        CheckReplies(toMta.Reader);
    }

    /// <summary>Every byte the session wrote must be whole frames with a reply code it may send.</summary>
    private static void CheckReplies(PipeReader fromFilter)
    {
        if (!fromFilter.TryRead(out var result))
            return;
        var buffer = result.Buffer;
        try
        {
            while (FrameReader.TryRead(ref buffer, int.MaxValue, out var code, out var payload))
            {
                if (!Enum.IsDefined((ReplyCode)code))
                    throw new FuzzFinding($"the session wrote reply code 0x{code:x2}");
                // A reply or modification the MTA could not decode would be our protocol error.
                var bytes = payload.ToArray();
                if (code is (byte)ReplyCode.ReplyCode)
                    _ = ReplyCodec.ParseReplyText(PayloadReader.Decode(bytes.AsSpan().TrimEnd((byte)0)));
                else
                    _ = ReplyCodec.ParseModification((ReplyCode)code, bytes);
            }
            if (!buffer.IsEmpty)
                throw new FuzzFinding($"the session wrote {buffer.Length} bytes of an incomplete frame");
        }
        finally
        {
            fromFilter.AdvanceTo(result.Buffer.End);
        }
    }
}
