using System.Buffers;
using System.Text;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Session;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>
/// Hostile and broken MTAs: each input closes that connection with exactly one warning naming the
/// violation, after the replies that were due before it.
/// </summary>
public sealed class SessionViolationTests
{
    private static readonly byte[] Offer = Bytes.SendmailOffer;
    private static readonly byte[] Answer = Bytes.Hex("0000000d4f00000006000001ff00000400");
    private static readonly byte[] Continue = Bytes.Reply('c');

    private static byte[] OpenMessage() => Bytes.Concat(Offer, Bytes.Connect4(), Bytes.Helo(), Bytes.Mail(), Bytes.Rcpt());

    private static byte[] WholeMessage() => Bytes.Concat(OpenMessage(), Bytes.Bare('T'), Bytes.Header("Subject", "x"), Bytes.Bare('N'),
        Bytes.Body("hi\r\n"), Bytes.Bare('E'));

    private static byte[] ManyMacros(int n)
    {
        var sb = new StringBuilder("C");
        for (var i = 0; i < n; i++)
            sb.Append("m").Append(i).Append('\0').Append('v').Append('\0');
        return Bytes.Frame('D', Encoding.ASCII.GetBytes(sb.ToString()));
    }

    public static TheoryData<string, byte[], ProtocolViolation, byte[]> Rows => new()
    {
        { "length 0", Bytes.Concat(Offer, Bytes.Hex("00000000")), ProtocolViolation.EmptyFrame, Answer },
        { "length 1: CONNECT without payload", Bytes.Concat(Offer, Bytes.Hex("0000000143")), ProtocolViolation.MalformedPayload, Answer },
        { "length 2^31-1", Bytes.Concat(Offer, Bytes.Hex("7fffffff43")), ProtocolViolation.FrameTooLarge, Answer },
        { "length 2^32-1", Bytes.Concat(Offer, Bytes.Hex("ffffffff43")), ProtocolViolation.FrameTooLarge, Answer },
        { "length above the 1 MiB ceiling", Bytes.Concat(Offer, Bytes.Hex("0010004142")), ProtocolViolation.FrameTooLarge, Answer },
        { "frame cut off then EOF", Bytes.Concat(Offer, Bytes.Connect4()[..12]), ProtocolViolation.TruncatedFrame, Answer },
        { "length prefix cut off then EOF", Bytes.Concat(Offer, Bytes.Hex("000000")), ProtocolViolation.TruncatedFrame, Answer },
        { "OPTNEG cut off then EOF", Offer[..9], ProtocolViolation.TruncatedFrame, [] },
        { "command before OPTNEG", Bytes.Connect4(), ProtocolViolation.CommandBeforeNegotiation, [] },
        { "MACRO before OPTNEG", Bytes.Macro('C', ("j", "x")), ProtocolViolation.CommandBeforeNegotiation, [] },
        { "unknown command before OPTNEG", Bytes.Bare('Z'), ProtocolViolation.UnknownCommand, [] },
        { "OPTNEG twice", Bytes.Concat(Offer, Offer), ProtocolViolation.DuplicateNegotiation, Answer },
        { "OPTNEG version 1", Bytes.Optneg(1, 0x1ff, 0x1fffff), ProtocolViolation.UnsupportedVersion, [] },
        { "OPTNEG too short", Bytes.Frame('O', 6u, 0x1ffu), ProtocolViolation.MalformedPayload, [] },
        { "RCPT before MAIL", Bytes.Concat(Offer, Bytes.Connect4(), Bytes.Helo(), Bytes.Rcpt()), ProtocolViolation.CommandOutOfOrder, Bytes.Concat(Answer, Continue, Continue) },
        { "HELO before CONNECT", Bytes.Concat(Offer, Bytes.Helo()), ProtocolViolation.CommandOutOfOrder, Answer },
        { "CONNECT twice", Bytes.Concat(Offer, Bytes.Connect4(), Bytes.Connect4()), ProtocolViolation.CommandOutOfOrder, Bytes.Concat(Answer, Continue) },
        { "BODY after EOM", Bytes.Concat(WholeMessage(), Bytes.Body("late")), ProtocolViolation.CommandOutOfOrder,
            Bytes.Concat(Answer, Continue, Continue, Continue, Continue, Continue, Continue, Continue, Continue, Bytes.Frame('h', "X-Standin", "checked"), Bytes.Reply('a')) },
        { "RCPT after DATA", Bytes.Concat(OpenMessage(), Bytes.Bare('T'), Bytes.Rcpt()), ProtocolViolation.CommandOutOfOrder,
            Bytes.Concat(Answer, Continue, Continue, Continue, Continue, Continue) },
        { "HEADER after EOH", Bytes.Concat(OpenMessage(), Bytes.Bare('N'), Bytes.Header("X", "y")), ProtocolViolation.CommandOutOfOrder,
            Bytes.Concat(Answer, Continue, Continue, Continue, Continue, Continue) },
        { "EOM outside a message", Bytes.Concat(Offer, Bytes.Connect4(), Bytes.Bare('E')), ProtocolViolation.CommandOutOfOrder, Bytes.Concat(Answer, Continue) },
        { "unknown command byte", Bytes.Concat(Offer, Bytes.Bare('Z')), ProtocolViolation.UnknownCommand, Answer },
        { "reply byte sent as a command", Bytes.Concat(Offer, Bytes.Bare('c')), ProtocolViolation.UnknownCommand, Answer },
        { "10,000 macros in one packet", Bytes.Concat(Offer, ManyMacros(10_000)), ProtocolViolation.TooManyMacros, Answer },
        { "MACRO without a stage letter", Bytes.Concat(Offer, Bytes.Hex("0000000144")), ProtocolViolation.MalformedPayload, Answer },
        { "malformed CONNECT family", Bytes.Concat(Offer, Bytes.Frame('C', "h", 'X', (ushort)25, "192.0.2.1")), ProtocolViolation.MalformedPayload, Answer },
        { "CONNECT with its port cut short", Bytes.Concat(Offer, Bytes.Frame('C', "h", '4', (byte)1)), ProtocolViolation.MalformedPayload, Answer },
        { "HEADER without its value", Bytes.Concat(OpenMessage(), Bytes.Frame('L', "Subject")), ProtocolViolation.MalformedPayload,
            Bytes.Concat(Answer, Continue, Continue, Continue, Continue) },
        { "MAIL without its NUL", Bytes.Concat(Offer, Bytes.Connect4(), Bytes.Frame('M', Encoding.ASCII.GetBytes("<a@b>"))), ProtocolViolation.MalformedPayload,
            Bytes.Concat(Answer, Continue) },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task Bad_input_closes_the_connection_with_one_warning_naming_the_violation(string what, byte[] input, ProtocolViolation expected, byte[] repliesBefore)
    {
        var (output, s) = await PipeSession.FeedAsync(ReferenceFilter.Create(), input);

        var warning = Assert.Single(s.Logger.AtLeast(LogLevel.Warning));
        Assert.Equal(expected, warning.Violation);
        Assert.Equal(1001, warning.EventId.Id);
        Assert.Contains(expected.ToString(), warning.Message, StringComparison.Ordinal);
        Assert.Equal(Bytes.ToHex(repliesBefore), Bytes.ToHex(output));
        Assert.True(s.Run.IsCompletedSuccessfully, what);
    }

    [Fact]
    public async Task The_violation_closes_the_connection_without_waiting_for_the_MTA_to_hang_up()
    {
        await using var s = PipeSession.Start(ReferenceFilter.Create());
        await s.SendAsync(Bytes.Concat(Offer, Bytes.Hex("00000000")));
        // The input stays open; the session must end by itself.
        await s.WaitForEndAsync();
        Assert.Equal(ProtocolViolation.EmptyFrame, Assert.Single(s.Logger.AtLeast(LogLevel.Warning)).Violation);
        var after = await s.ToFilter.WriteAsync(Bytes.Bare('Q'));
        Assert.True(after.IsCompleted, "the session stopped reading");
    }

    [Fact]
    public async Task A_one_byte_QUIT_frame_ends_the_session_quietly()
    {
        await using var s = PipeSession.Start(ReferenceFilter.Create());
        await s.SendAsync(Bytes.Concat(Offer, Bytes.Hex("0000000151")));
        await s.WaitForEndAsync();
        Assert.Empty(s.Logger.AtLeast(LogLevel.Information));
        Assert.Equal(Bytes.ToHex(Answer), Bytes.ToHex(await s.ReadAllOutputAsync()));
    }

    [Fact]
    public async Task An_MTA_that_hangs_up_between_frames_is_not_a_violation()
    {
        var (output, s) = await PipeSession.FeedAsync(ReferenceFilter.Create(), OpenMessage());
        Assert.Empty(s.Logger.AtLeast(LogLevel.Information));
        Assert.Contains(s.Logger.Entries, e => e.EventId.Id == 1003);
        Assert.Equal(Bytes.ToHex(Bytes.Concat(Answer, Continue, Continue, Continue, Continue)), Bytes.ToHex(output));
        // The handler still hears that the SMTP session is over.
        Assert.Equal("CLOSE", ((ScriptedHandler)s.Handler).Seen[^1].Stage);
    }

    [Theory]
    [InlineData("7fffffff")]
    [InlineData("ffffffff")]
    public void A_huge_announced_length_allocates_nothing_of_that_size(string lengthHex)
    {
        var s = PipeSession.Create(ReferenceFilter.Create());
        s.ToFilter.Write(Bytes.Concat(Offer, Bytes.Hex(lengthHex + "42"), new byte[4000]));
        Assert.True(s.ToFilter.FlushAsync().IsCompleted);
        s.ToFilter.Complete();

        // Everything is buffered and the pipes are inline, so the whole session runs on this thread.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var run = s.StartRun();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(run.IsCompleted, "the session ran to its end synchronously");
        Assert.Equal(ProtocolViolation.FrameTooLarge, Assert.Single(s.Logger.AtLeast(LogLevel.Warning)).Violation);
        Assert.True(allocated < 256 * 1024, $"the session allocated {allocated} bytes");
    }

    [Fact]
    public async Task A_frame_announcing_a_megabyte_holds_only_the_bytes_that_arrived()
    {
        // Just under the ceiling: legal, so the session waits for the rest; the pipe holds what came.
        await using var s = PipeSession.Start(ReferenceFilter.Create(), pipes: PipeSession.Threaded);
        await s.SendAsync(Bytes.Concat(Offer, Bytes.Connect4(), Bytes.Helo(), Bytes.Mail(), Bytes.Rcpt(), Bytes.Bare('T'), Bytes.Hex("0010000042"), new byte[100]));
        var reader = s.FromFilter;
        var seen = 0L;
        while (seen < Answer.Length + 5 * 5)
        {
            var r = await reader.ReadAsync();
            seen = r.Buffer.Length;
            reader.AdvanceTo(r.Buffer.Start, r.Buffer.End);
        }
        Assert.False(s.Run.IsCompleted);
        await s.EndInputAsync();
        await s.WaitForEndAsync();
        Assert.Equal(ProtocolViolation.TruncatedFrame, Assert.Single(s.Logger.AtLeast(LogLevel.Warning)).Violation);
        Assert.Contains("105 bytes", Assert.Single(s.Logger.AtLeast(LogLevel.Warning)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_idle_MTA_is_closed_after_the_idle_timeout_and_not_before()
    {
        var time = new ObservableTimeProvider();
        var options = new SessionOptions { Limits = new() { IdleTimeout = TimeSpan.FromMinutes(2) } };
        await using var s = PipeSession.Start(ReferenceFilter.Create(), options, time);
        await s.SendAsync(Offer);

        time.Advance(TimeSpan.FromMinutes(2) - TimeSpan.FromSeconds(1));
        await Task.Delay(50);
        Assert.False(s.Run.IsCompleted);
        // A command restarts the clock.
        await s.SendAsync(Bytes.Connect4());
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(s.Run.IsCompleted);

        time.Advance(TimeSpan.FromMinutes(2));
        await s.WaitForEndAsync();
        var line = Assert.Single(s.Logger.AtLeast(LogLevel.Information));
        Assert.Equal(1002, line.EventId.Id);
        Assert.Equal(Bytes.ToHex(Bytes.Concat(Answer, Continue)), Bytes.ToHex(await s.ReadAllOutputAsync()));
        Assert.Equal("CLOSE", ((ScriptedHandler)s.Handler).Seen[^1].Stage);
    }

    [Fact]
    public async Task By_default_an_MTA_reading_a_long_message_from_its_client_keeps_the_connection_for_two_hours()
    {
        // sendmail sends the first header only once its client has sent the whole message, which on a
        // slow link takes as long as its Timeout.datablock (1 h) allows; libmilter waits 7,210 s.
        var time = new ObservableTimeProvider();
        await using var s = PipeSession.Start(ReferenceFilter.Create(), new SessionOptions(), time);
        await s.SendAsync(OpenMessage());

        time.Advance(TimeSpan.FromMinutes(61));
        await Task.Delay(50);
        Assert.False(s.Run.IsCompleted);
        await s.SendAsync(Bytes.Bare('T'));
        time.Advance(TimeSpan.FromHours(2) - TimeSpan.FromSeconds(1));
        await Task.Delay(50);
        Assert.False(s.Run.IsCompleted);
        Assert.Empty(s.Logger.AtLeast(LogLevel.Information));

        time.Advance(TimeSpan.FromSeconds(2));
        await s.WaitForEndAsync();
        Assert.Equal(1002, Assert.Single(s.Logger.AtLeast(LogLevel.Information)).EventId.Id);
    }
}
