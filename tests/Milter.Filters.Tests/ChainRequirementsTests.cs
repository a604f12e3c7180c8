using Microsoft.Extensions.Logging.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Negotiation;

namespace Milter.Filters.Tests;

public sealed class ChainRequirementsTests
{
    private static FilterChain Chain(params IMilterFilter[] filters) => new(filters, OnError.Tempfail, new FakeLogger<FilterChain>());

    private const MilterStages ChainOwn = MilterStages.Connect | MilterStages.Helo | MilterStages.Mail | MilterStages.Rcpt | MilterStages.EndOfMessage;

    [Fact]
    public void With_no_filters_the_chain_asks_only_for_the_envelope_and_awaits_no_reply()
    {
        var r = Chain().Requirements;
        Assert.Equal(ChainOwn, r.Stages);
        Assert.Equal(MilterStages.None, r.Replies);
        Assert.Equal(Protocol.Negotiation.ActionFlags.None, r.Actions);
        Assert.Equal(["{client_addr}", "{client_name}"], r.Macros![MacroStage.Connect]);
        Assert.Equal(["i", "{auth_authen}"], r.Macros[MacroStage.EnvFrom]);
    }

    [Fact]
    public void Stages_replies_and_macros_are_the_union_of_the_filters_needs()
    {
        var a = new ScriptedFilter("a", MilterStages.Rcpt)
        {
            Needs = new FilterNeeds(MilterStages.Rcpt | MilterStages.Data, new Dictionary<MacroStage, IReadOnlyList<string>>
            {
                [MacroStage.EnvRcpt] = ["rcpt_host", "{rcpt_addr}"],
            })
            { Replies = MilterStages.Rcpt },
        };
        var b = new ScriptedFilter("b", MilterStages.None)
        {
            Needs = new FilterNeeds(MilterStages.Header | MilterStages.EndOfHeaders | MilterStages.Body, new Dictionary<MacroStage, IReadOnlyList<string>>
            {
                [MacroStage.EnvRcpt] = ["{rcpt_addr}"],
                [MacroStage.Data] = ["msg_id"],
            })
            { Replies = MilterStages.EndOfHeaders },
        };

        var r = Chain(a, b).Requirements;

        // Body is dropped: no filter callback reads it.
        Assert.Equal(ChainOwn | MilterStages.Data | MilterStages.Header | MilterStages.EndOfHeaders, r.Stages);
        Assert.Equal(MilterStages.Rcpt | MilterStages.EndOfHeaders, r.Replies);
        Assert.Equal(["i", "{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}"], r.Macros![MacroStage.EnvRcpt]);
        Assert.Equal(["{msg_id}"], r.Macros[MacroStage.Data]);
        // b reads headers without naming them: every header is decoded.
        Assert.Null(r.HeaderNames);
    }

    [Fact]
    public void Headers_are_decoded_only_by_the_names_the_filters_read_and_the_Subject()
    {
        var named = new ScriptedFilter("a", MilterStages.None)
        {
            Needs = new FilterNeeds(MilterStages.Header | MilterStages.EndOfHeaders, new Dictionary<MacroStage, IReadOnlyList<string>>())
            { HeaderNames = ["X-Spam-Flag", "subject"] },
        };
        var none = new ScriptedFilter("b", MilterStages.Rcpt) { Needs = new FilterNeeds(MilterStages.Rcpt, new Dictionary<MacroStage, IReadOnlyList<string>>()) { HeaderNames = null } };

        var r = Chain(named, none).Requirements;

        Assert.Equal(["Subject", "X-Spam-Flag"], r.HeaderNames);
        Assert.True(r.WantsHeader("x-spam-flag\0YES\0"u8));
        Assert.False(r.WantsHeader("Received\0from a\0"u8));
    }

    [Fact]
    public void A_filter_that_does_not_say_otherwise_may_answer_at_each_of_its_stages()
    {
        var r = Chain(new ScriptedFilter("a", MilterStages.Mail | MilterStages.Data)).Requirements;
        Assert.Equal(MilterStages.Mail | MilterStages.Data, r.Replies);
    }

    [Fact]
    public void End_of_message_changes_are_asked_for_only_when_a_filter_declares_them()
    {
        var plain = new ScriptedFilter("a", MilterStages.Rcpt);
        var adds = new ScriptedFilter("b", MilterStages.None)
        {
            Needs = new FilterNeeds(MilterStages.EndOfMessage, new Dictionary<MacroStage, IReadOnlyList<string>>()) { Actions = Protocol.Negotiation.ActionFlags.AddHeaders },
        };

        Assert.Equal(Protocol.Negotiation.ActionFlags.None, Chain(plain).Requirements.Actions);
        Assert.Equal(Protocol.Negotiation.ActionFlags.AddHeaders, Chain(plain, adds).Requirements.Actions);
    }
}
