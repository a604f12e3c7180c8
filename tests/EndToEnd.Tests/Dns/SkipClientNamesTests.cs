using Milter.TestSupport;

namespace EndToEnd.Tests.Dns;

/// <summary><c>greylist.skip.client_names</c> through a real sendmail, against the test's own DNS server.</summary>
public sealed class SkipClientNamesTests(SkipClientNamesFixture fixture) : IClassFixture<SkipClientNamesFixture>
{
    [Fact]
    public async Task Client_whose_confirmed_name_matches_passes_at_once()
    {
        var result = await fixture.SendToBobAsync("127.0.4.2", "ann@static.example"); // mx2.static.example

        Assert.NotNull(result.QueueId);
    }

    [Fact]
    public async Task Client_with_a_confirmed_name_that_does_not_match_is_greylisted()
    {
        var result = await fixture.SendToBobAsync("127.0.4.1", "ann@isp.example"); // dyn-127-0-4-1.isp.example

        Assert.Equal("451 4.7.1 Greylisted, please retry in 2 seconds", result.ReplyTo("DATA")!.Text);
    }
}
