using Microsoft.Extensions.Logging;
using Milter.Protocol.Tests.Support;

namespace Milter.Protocol.Tests;

/// <summary>
/// The real sendmail/Postfix conversations in tests/testdata/captures, fed to a session whose
/// handler has the reference filter's policy: the session must answer with the captured bytes,
/// however the MTA's bytes are cut into reads.
/// </summary>
public sealed class CaptureReplayTests
{
    public static TheoryData<string> AllCaptures => new(Capture.Names);

    public static TheoryData<string> SmallCaptures => new(Capture.Names.Where(n => n != "large-body"));

    [Theory]
    [MemberData(nameof(AllCaptures))]
    public async Task Capture_fed_whole_gets_the_captured_replies_and_the_session_ends_at_QUIT(string name)
    {
        var capture = Capture.Load(name);
        var filter = ReferenceFilter.Create(ReferenceFilter.Greylists(name));
        await using var s = PipeSession.Start(filter);

        await s.SendAsync(capture.MtaStream);
        // The input stays open: only QUIT may end the session.
        await s.WaitForEndAsync();

        Assert.Equal(Bytes.ToHex(capture.FilterStream), Bytes.ToHex(await s.ReadAllOutputAsync()));
        Assert.True(s.Run.IsCompletedSuccessfully);
        Assert.Empty(s.Logger.AtLeast(LogLevel.Information));
        Assert.Equal("CLOSE", filter.Seen[^1].Stage);
        Assert.Single(filter.At("CLOSE"));
    }

    [Theory]
    [MemberData(nameof(AllCaptures))]
    public async Task Capture_fed_one_byte_at_a_time_gets_the_captured_replies(string name)
    {
        var capture = Capture.Load(name);
        var stream = capture.MtaStream;
        var chunks = Enumerable.Range(0, stream.Length).Select(i => (ReadOnlyMemory<byte>)stream.AsMemory(i, 1));

        var (output, s) = await PipeSession.FeedAsync(ReferenceFilter.Create(ReferenceFilter.Greylists(name)), chunks);

        Assert.Equal(Bytes.ToHex(capture.FilterStream), Bytes.ToHex(output));
        Assert.Empty(s.Logger.AtLeast(LogLevel.Information));
    }

    [Theory]
    [MemberData(nameof(SmallCaptures))]
    public async Task Capture_split_at_every_offset_gets_the_captured_replies(string name)
    {
        var capture = Capture.Load(name);
        var stream = capture.MtaStream;
        var expected = Bytes.ToHex(capture.FilterStream);
        for (var cut = 1; cut < stream.Length; cut++)
            await AssertSplitReplay(name, stream, [cut], expected);
    }

    [Fact]
    public async Task Large_body_split_at_sampled_offsets_and_around_every_frame_boundary_gets_the_captured_replies()
    {
        var capture = Capture.Load("large-body");
        var stream = capture.MtaStream;
        var expected = Bytes.ToHex(capture.FilterStream);

        var cuts = new SortedSet<int>();
        for (var at = 1; at < stream.Length; at += 1021)
            cuts.Add(at);
        var boundary = 0;
        foreach (var frame in capture.ToFilter)
        {
            for (var d = -5; d <= 5; d++)
                cuts.Add(boundary + d);
            boundary += frame.Bytes.Length;
        }
        cuts.RemoveWhere(c => c <= 0 || c >= stream.Length);

        foreach (var cut in cuts)
            await AssertSplitReplay("large-body", stream, [cut], expected);
        // And in three pieces, inside two different body frames.
        await AssertSplitReplay("large-body", stream, [70_001, 140_003], expected);
    }

    private static async Task AssertSplitReplay(string name, byte[] stream, int[] cuts, string expected)
    {
        var pieces = new List<ReadOnlyMemory<byte>>();
        var from = 0;
        foreach (var cut in cuts.Append(stream.Length))
        {
            pieces.Add(stream.AsMemory(from, cut - from));
            from = cut;
        }
        var (output, s) = await PipeSession.FeedAsync(ReferenceFilter.Create(ReferenceFilter.Greylists(name)), pieces);
        var actual = Bytes.ToHex(output);
        if (actual != expected)
            Assert.Fail($"{name} cut at {string.Join(", ", cuts)}: expected {expected}, got {actual}; log: {string.Join(" | ", s.Logger.Entries)}");
        Assert.Empty(s.Logger.AtLeast(LogLevel.Information));
    }
}
