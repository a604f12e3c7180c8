using Milter.Protocol.Negotiation;

namespace Milter.Filters.Tests;

/// <summary>One table of stage names for the decision log, simulate, /metrics and the negotiated stages.</summary>
public sealed class DecisionStageTests
{
    [Fact]
    public void Every_stage_a_filter_can_negotiate_has_its_name_in_the_table()
    {
        var negotiable = Enum.GetValues<MilterStages>().Where(s => s is not (MilterStages.None or MilterStages.All or MilterStages.Unknown));

        Assert.Equal(["connect", "helo", "mail", "rcpt", "data", "header", "eoh", "body", "eom"], negotiable.Select(s => DecisionStage.Of(s)));
        Assert.All(negotiable, s => Assert.Contains(DecisionStage.Of(s), DecisionStage.All));
        Assert.Null(DecisionStage.Of(MilterStages.Rcpt | MilterStages.Data));
    }
}
