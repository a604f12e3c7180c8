using Microsoft.Extensions.Logging;
using Milter.Protocol.Session;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary><see cref="MilterLimits.MaxHeaderBytes"/>: a per-message budget of HEADER bytes, off by default.</summary>
public sealed class HeaderBudgetTests
{
    private static readonly byte[] Answer = Bytes.Hex("0000000d4f00000006000001ff00000400");
    private static readonly byte[] Continue = Bytes.Reply('c');
    private static readonly SessionOptions Budget = new() { Limits = new() { MaxHeaderBytes = 100 } };

    private static byte[] OpenData() => Bytes.Concat(Bytes.SendmailOffer, Bytes.Connect4(), Bytes.Helo(), Bytes.Mail(), Bytes.Rcpt(), Bytes.Bare('T'));

    [Fact]
    public async Task Headers_over_the_budget_close_the_connection_with_one_warning()
    {
        // Each header payload is "X-Flood\0" + 40 bytes + NUL = 49 bytes: the third passes 100.
        var header = Bytes.Header("X-Flood", new string('a', 40));
        var (output, s) = await PipeSession.FeedAsync(ReferenceFilter.Create(), Bytes.Concat(OpenData(), header, header, header, header), Budget);

        var warning = Assert.Single(s.Logger.AtLeast(LogLevel.Warning));
        Assert.Equal(ProtocolViolation.HeadersTooLarge, warning.Violation);
        Assert.Contains("more than 100 bytes of headers in one message", warning.Message, StringComparison.Ordinal);
        // OPTNEG, CONNECT, HELO, MAIL, RCPT, DATA and two headers were answered; nothing after.
        Assert.Equal(Bytes.ToHex(Bytes.Concat(Answer, Continue, Continue, Continue, Continue, Continue, Continue, Continue)), Bytes.ToHex(output));
    }

    [Fact]
    public async Task The_budget_is_per_message()
    {
        var header = Bytes.Header("X-Flood", new string('a', 40));
        var message = Bytes.Concat(Bytes.Mail(), Bytes.Rcpt(), Bytes.Bare('T'), header, header, Bytes.Bare('N'), Bytes.Body("hi\r\n"), Bytes.Bare('E'));
        var input = Bytes.Concat(Bytes.SendmailOffer, Bytes.Connect4(), Bytes.Helo(), message, message, message, Bytes.Bare('Q'));

        var (_, s) = await PipeSession.FeedAsync(ReferenceFilter.Create(), input, Budget);

        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
        Assert.Equal(3, ((ScriptedHandler)s.Handler).At("EOM").Count());
    }
}
