using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

public sealed class NegotiatorTests
{
    private static readonly OptionNegotiation Sendmail = new(6, ActionFlags.All, (ProtocolFlags)0x1fffff);

    // What sendmail 8.13 (v4) offered: stages to skip and NR_HDR, no v6 flags, no SETSYMLIST.
    private static readonly OptionNegotiation Version4 = new(4, (ActionFlags)0x3f, (ProtocolFlags)0xff);

    [Fact]
    public void Everything_against_sendmail_817_asks_only_for_SKIP_as_the_captures_show()
    {
        var answer = Negotiator.Negotiate(Sendmail, HandlerRequirements.Everything with { Actions = ActionFlags.All });
        Assert.Equal(6u, answer.Version);
        Assert.Equal(ActionFlags.All, answer.Actions);
        Assert.Equal(ProtocolFlags.Skip, answer.Protocol);
        Assert.Null(answer.MacroLists);
    }

    [Theory]
    [InlineData(2u)]
    [InlineData(3u)]
    [InlineData(4u)]
    [InlineData(5u)]
    [InlineData(6u)]
    public void Versions_2_to_6_are_answered_with_the_MTAs_version(uint version)
    {
        var answer = Negotiator.Negotiate(Sendmail with { Version = version }, HandlerRequirements.Everything);
        Assert.Equal(version, answer.Version);
    }

    [Fact]
    public void A_newer_MTA_is_answered_with_version_6()
    {
        Assert.Equal(6u, Negotiator.Negotiate(Sendmail with { Version = 7 }, HandlerRequirements.Everything).Version);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    public void A_version_below_2_is_refused(uint version)
    {
        var e = Assert.Throws<MilterProtocolException>(() => Negotiator.Negotiate(Sendmail with { Version = version }, HandlerRequirements.Everything));
        Assert.Equal(ProtocolViolation.UnsupportedVersion, e.Violation);
    }

    [Fact]
    public void Unused_stages_are_skipped_and_stages_whose_answer_never_changes_are_not_awaited()
    {
        var needs = new HandlerRequirements
        {
            Stages = MilterStages.Connect | MilterStages.Rcpt | MilterStages.Header | MilterStages.EndOfMessage,
            Replies = MilterStages.Rcpt | MilterStages.EndOfMessage,
        };
        var answer = Negotiator.Negotiate(Sendmail, needs);
        Assert.Equal(
            ProtocolFlags.NoHelo | ProtocolFlags.NoMail | ProtocolFlags.NoData | ProtocolFlags.NoEoh | ProtocolFlags.NoBody | ProtocolFlags.NoUnknown
            | ProtocolFlags.NoReplyConnect | ProtocolFlags.NoReplyHeader | ProtocolFlags.Skip,
            answer.Protocol);
    }

    [Fact]
    public void Each_stage_maps_to_its_own_NO_and_NR_flag()
    {
        (MilterStages Stage, ProtocolFlags No, ProtocolFlags Nr)[] table =
        [
            (MilterStages.Connect, ProtocolFlags.NoConnect, ProtocolFlags.NoReplyConnect),
            (MilterStages.Helo, ProtocolFlags.NoHelo, ProtocolFlags.NoReplyHelo),
            (MilterStages.Mail, ProtocolFlags.NoMail, ProtocolFlags.NoReplyMail),
            (MilterStages.Rcpt, ProtocolFlags.NoRcpt, ProtocolFlags.NoReplyRcpt),
            (MilterStages.Data, ProtocolFlags.NoData, ProtocolFlags.NoReplyData),
            (MilterStages.Header, ProtocolFlags.NoHeaders, ProtocolFlags.NoReplyHeader),
            (MilterStages.EndOfHeaders, ProtocolFlags.NoEoh, ProtocolFlags.NoReplyEoh),
            (MilterStages.Body, ProtocolFlags.NoBody, ProtocolFlags.NoReplyBody),
            (MilterStages.Unknown, ProtocolFlags.NoUnknown, ProtocolFlags.NoReplyUnknown),
        ];
        foreach (var (stage, no, nr) in table)
        {
            var skipped = Negotiator.Negotiate(Sendmail, new HandlerRequirements { Stages = MilterStages.All & ~stage });
            Assert.Equal(no | ProtocolFlags.Skip, skipped.Protocol);
            var unanswered = Negotiator.Negotiate(Sendmail, new HandlerRequirements { Replies = MilterStages.All & ~stage });
            Assert.Equal(nr | ProtocolFlags.Skip, unanswered.Protocol);
        }
    }

    [Fact]
    public void Flags_and_actions_the_MTA_did_not_offer_are_never_asked_for()
    {
        var needs = new HandlerRequirements
        {
            Stages = MilterStages.Rcpt,
            Replies = MilterStages.None,
            Actions = ActionFlags.All,
            HeaderLeadingSpace = true,
            Macros = new Dictionary<MacroStage, IReadOnlyList<string>> { [MacroStage.EnvRcpt] = ["{rcpt_addr}"] },
        };
        var answer = Negotiator.Negotiate(Version4, needs);
        Assert.Equal(4u, answer.Version);
        Assert.Equal((ActionFlags)0x3f, answer.Actions);
        // NOCONNECT..NOEOH are offered; NORCPT is not wanted; NR_RCPT, SKIP, HDR_LEADSPC are v6 and not offered.
        Assert.Equal((ProtocolFlags)0x77, answer.Protocol);
        Assert.Null(answer.MacroLists);
    }

    [Fact]
    public void Header_values_with_their_leading_space_are_asked_for_only_when_wanted()
    {
        Assert.Equal(ProtocolFlags.Skip | ProtocolFlags.HeaderLeadingSpace,
            Negotiator.Negotiate(Sendmail, new HandlerRequirements { HeaderLeadingSpace = true }).Protocol);
    }

    [Fact]
    public void Macro_lists_are_sent_with_braces_for_long_names_only_when_SETSYMLIST_is_offered()
    {
        var needs = new HandlerRequirements
        {
            Actions = ActionFlags.AddHeaders,
            Macros = new Dictionary<MacroStage, IReadOnlyList<string>>
            {
                [MacroStage.Connect] = ["client_addr", "{client_name}", "j", "{j}", "client_addr"],
                [MacroStage.EnvFrom] = ["i", "{auth_authen}"],
                [MacroStage.EndOfMessage] = [],
            },
        };

        var answer = Negotiator.Negotiate(Sendmail, needs);
        Assert.Equal(ActionFlags.AddHeaders | ActionFlags.SetSymbolList, answer.Actions);
        Assert.Equal(2, answer.MacroLists!.Count);
        Assert.Equal("{client_addr} {client_name} j", answer.MacroLists[MacroStage.Connect]);
        Assert.Equal("i {auth_authen}", answer.MacroLists[MacroStage.EnvFrom]);

        var withoutSymlist = Negotiator.Negotiate(Sendmail with { Actions = ActionFlags.All & ~ActionFlags.SetSymbolList }, needs);
        Assert.Null(withoutSymlist.MacroLists);
        Assert.Equal(ActionFlags.AddHeaders, withoutSymlist.Actions);
    }

    [Fact]
    public void No_macro_list_is_sent_when_the_handler_reads_whatever_comes()
    {
        var answer = Negotiator.Negotiate(Sendmail, new HandlerRequirements { Actions = ActionFlags.AddHeaders });
        Assert.Null(answer.MacroLists);
        Assert.Equal(ActionFlags.AddHeaders, answer.Actions);
    }
}
