using Milter.Protocol.Commands;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;
using Milter.Protocol.Tests.Support;

namespace Milter.Protocol.Tests;

/// <summary>
/// One named test per input in tests/fuzz/regressions: what the fuzzer found, played through the
/// real session and the library's MTA half.
/// </summary>
public sealed class FuzzRegressionTests
{
    /// <summary>
    /// reply-text-like-enhanced-code: the fuzz handler rejects RCPT with its ESMTP arguments as the
    /// reply text, no enhanced code. An argument "567.0.0" made the text "550 567.0.0", which the
    /// MTA half took for a malformed enhanced status code and threw on; sendmail reads it as text.
    /// </summary>
    [Theory]
    [InlineData("567.0.0")]
    [InlineData("4.7.1")]
    [InlineData("5..1")]
    public async Task A_reply_whose_text_starts_like_an_enhanced_code_reaches_the_MTA_as_text(string argument)
    {
        var handler = new ScriptedHandler
        {
            Script = c => new(c.Command is RcptCommand rcpt ? Verdict.Reject(new SmtpReply(550, null, rcpt.Arguments)) : Verdict.Continue),
        };
        await using var s = PipeSession.Start(handler);
        await s.Client.NegotiateAsync();
        await s.Client.ConnectAsync("client.example", ConnectFamily.Inet, 4321, "192.0.2.7");
        await s.Client.HeloAsync("client.example");
        await s.Client.MailAsync("<sender@remote.example>");

        var answer = await s.Client.RcptAsync("<bob@example.com>", [argument, "second line"]);

        Assert.Equal(VerdictKind.Reject, answer.Kind);
        Assert.Equal(550, answer.Reply!.Code);
        Assert.Null(answer.Reply.Enhanced);
        Assert.Equal([argument, "second line"], answer.Reply.Lines);
        await s.Client.QuitAsync();
        await s.WaitForEndAsync();
    }
}
