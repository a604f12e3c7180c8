using System.Buffers;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

public sealed class FrameReaderTests
{
    private const int Limit = 1024 * 1024 + 64;

    [Fact]
    public void A_whole_frame_is_cut_out_and_the_buffer_advanced_past_it()
    {
        var bytes = Bytes.Concat(Bytes.Helo("a.example"), Bytes.Bare('Q'));
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(FrameReader.TryRead(ref buffer, Limit, out var code, out var payload));
        Assert.Equal((byte)'H', code);
        Assert.Equal("a.example\0"u8.ToArray(), payload.ToArray());
        Assert.True(FrameReader.TryRead(ref buffer, Limit, out code, out payload));
        Assert.Equal((byte)'Q', code);
        Assert.True(payload.IsEmpty);
        Assert.True(buffer.IsEmpty);
        Assert.False(FrameReader.TryRead(ref buffer, Limit, out _, out _));
    }

    [Fact]
    public void Every_proper_prefix_of_a_frame_asks_for_more_and_leaves_the_buffer_alone()
    {
        var frame = Bytes.Rcpt("<bob@example.com>", "NOTIFY=NEVER");
        for (var n = 0; n < frame.Length; n++)
        {
            var buffer = new ReadOnlySequence<byte>(frame, 0, n);
            Assert.False(FrameReader.TryRead(ref buffer, Limit, out _, out _));
            Assert.Equal(n, buffer.Length);
        }
    }

    [Fact]
    public void A_frame_spread_over_segments_at_every_boundary_including_empty_segments_reads_the_same()
    {
        var frame = Bytes.Header("Subject", "hello world");
        for (var cut = 0; cut <= frame.Length; cut++)
        {
            for (var cut2 = cut; cut2 <= frame.Length; cut2++)
            {
                // Three segments, one of them possibly empty, as a pipe may hand them over.
                var buffer = Segments.Of(frame[..cut], frame[cut..cut2], frame[cut2..]);
                Assert.True(FrameReader.TryRead(ref buffer, Limit, out var code, out var payload), $"cut at {cut}/{cut2}");
                Assert.Equal((byte)'L', code);
                Assert.Equal(frame[5..], payload.ToArray());
                Assert.True(buffer.IsEmpty);
            }
        }
    }

    [Fact]
    public void A_frame_one_byte_per_segment_reads_the_same()
    {
        var frame = Bytes.Connect4();
        var buffer = Segments.Of(frame.Select(b => new[] { b }).ToArray());
        Assert.True(FrameReader.TryRead(ref buffer, Limit, out var code, out var payload));
        Assert.Equal((byte)'C', code);
        Assert.Equal(frame[5..], payload.ToArray());
    }

    [Theory]
    [InlineData("00000000", ProtocolViolation.EmptyFrame)]
    [InlineData("0010004143", ProtocolViolation.FrameTooLarge)]
    [InlineData("7fffffff43", ProtocolViolation.FrameTooLarge)]
    [InlineData("ffffffff43", ProtocolViolation.FrameTooLarge)]
    [InlineData("ffffffff", ProtocolViolation.FrameTooLarge)]
    public void A_bad_length_is_refused_before_its_bytes_arrive(string hex, ProtocolViolation expected)
    {
        var buffer = new ReadOnlySequence<byte>(Bytes.Hex(hex));
        var e = Assert.Throws<MilterProtocolException>(() => FrameReader.TryRead(ref buffer, Limit, out _, out _));
        Assert.Equal(expected, e.Violation);
    }

    [Fact]
    public void The_length_limit_is_inclusive()
    {
        var atLimit = new byte[4 + 100];
        atLimit[3] = 100;
        atLimit[4] = (byte)'B';
        var buffer = new ReadOnlySequence<byte>(atLimit);
        Assert.True(FrameReader.TryRead(ref buffer, 100, out _, out var payload));
        Assert.Equal(99, payload.Length);

        atLimit[3] = 101;
        buffer = new ReadOnlySequence<byte>(atLimit);
        Assert.Equal(ProtocolViolation.FrameTooLarge,
            Assert.Throws<MilterProtocolException>(() => FrameReader.TryRead(ref buffer, 100, out _, out _)).Violation);
    }
}

/// <summary>Builds multi-segment sequences, as a pipe hands over data that arrived in pieces.</summary>
internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(byte[] data, long runningIndex)
    {
        Memory = data;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        var first = new Segments(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            var next = new Segments(part, last.RunningIndex + last.Memory.Length);
            last.Next = next;
            last = next;
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
