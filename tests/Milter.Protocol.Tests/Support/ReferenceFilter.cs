using Milter.Protocol.Commands;
using Milter.Protocol.Replies;

namespace Milter.Protocol.Tests.Support;

/// <summary>
/// The policy of the pymilter filter that answered in tests/testdata/captures, so replaying a capture
/// through a session must give the captured replies byte for byte.
/// </summary>
public static class ReferenceFilter
{
    public static readonly SmtpReply AccessDenied = new(550, "5.7.1", "Access denied");
    public static readonly SmtpReply Greylisted = new(451, "4.7.1", "Greylisted, please try again later");
    public static readonly SmtpReply UserUnknown = new(550, "5.1.1", "User unknown");
    public static readonly SmtpReply RelayingDenied = new(550, "5.7.1", "Relaying denied");
    public static readonly SmtpReply ContentRejected = new(550, "5.7.1", "Message content rejected");

    /// <summary>The captures that greylist at RCPT.</summary>
    public static bool Greylists(string capture) => capture is "greylisted" or "postfix-greylisted";

    /// <summary>
    /// A handler with this policy that records every stage. It asks for every stage, every reply and
    /// every action, so its negotiation answer is the captured 0x1ff / 0x400.
    /// </summary>
    public static ScriptedHandler Create(bool greylist = false) => new() { Script = c => new(Decide(c, greylist)) };

    private static Verdict Decide(StageCall call, bool greylist)
    {
        switch (call.Command)
        {
            case ConnectCommand connect:
                return connect.Address == "127.0.0.66" ? Verdict.Reject(AccessDenied) : Verdict.Continue;
            case RcptCommand rcpt:
                if (greylist)
                    return Verdict.Tempfail(Greylisted);
                var address = rcpt.Address;
                var at = address.LastIndexOf('@');
                if (!address[(at + 1)..].Equals("example.com", StringComparison.OrdinalIgnoreCase))
                    return Verdict.Reject(RelayingDenied);
                return address[..Math.Max(at, 0)] == "nobody" ? Verdict.Reject(UserUnknown) : Verdict.Continue;
            case HeaderCommand header:
                var banned = header.Name.Equals("Subject", StringComparison.OrdinalIgnoreCase)
                    && header.Value.Contains("Cheap meds", StringComparison.OrdinalIgnoreCase);
                return banned ? Verdict.Reject(ContentRejected) : Verdict.Continue;
            default:
                if (call.Stage != "EOM")
                    return Verdict.Continue;
                call.Modifier!.AddHeader("X-Standin", "checked");
                return Verdict.Accept;
        }
    }
}
