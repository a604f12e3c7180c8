using Milter.Protocol.Session;
using Milter.Protocol.Tests.Support;

namespace Milter.Protocol.Tests;

public sealed class PeerWatchTests
{
    public static TheoryData<string, byte[], bool> Looks => new()
    {
        { "QUIT", Bytes.Bare('Q'), true },
        { "macros, then QUIT", Bytes.Concat(Bytes.Macro('E', ("i", "Q1")), Bytes.Bare('Q')), true },
        { "the end of a header, then QUIT", Bytes.Concat(Bytes.Header("X-Pad", "QQQQ"), Bytes.Bare('Q')), true },
        { "ABORT, then QUIT cut short", Bytes.Concat(Bytes.Bare('A'), Bytes.Hex("00000001")), false },
        // A look that starts inside a long header the MTA sent without waiting (NR_HDR): its fifth
        // byte is a Q of the header's text.
        { "the middle of a header of Qs", Bytes.Header("X-Pad", new string('Q', 8000))[11..75], false },
        { "a length, then Q, inside a body", Bytes.Concat(Bytes.Hex("00001f40"), "QUIT the rest"u8.ToArray()), false },
        { "an unknown command byte", Bytes.Concat(Bytes.Hex("0000000158"), Bytes.Bare('Q')), false },
        { "a HEADER frame whole", Bytes.Header("Subject", "hello"), false },
    };

    [Theory]
    [MemberData(nameof(Looks))]
    public void Only_a_QUIT_frame_among_whole_frames_reads_as_the_MTA_leaving(string what, byte[] look, bool left) =>
        Assert.True(PeerWatch.HasQuit(look) == left, what);
}
