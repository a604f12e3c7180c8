using Milter.TestSupport;

namespace EndToEnd.Tests.Dns;

/// <summary><c>greylist.only_suspicious</c> through a real sendmail: forward-confirmed static names pass, dynamic ones wait.</summary>
public sealed class OnlySuspiciousTests(OnlySuspiciousFixture fixture) : IClassFixture<OnlySuspiciousFixture>
{
    [Fact]
    public async Task Client_whose_ptr_and_a_records_agree_passes_at_once()
    {
        var result = await fixture.SendToBobAsync("127.0.4.2", "ann@static.example");

        Assert.NotNull(result.QueueId);
    }

    [Fact]
    public async Task Client_with_a_dynamic_looking_name_is_greylisted()
    {
        var result = await fixture.SendToBobAsync("127.0.4.1", "ann@isp.example");

        Assert.Equal("451 4.7.1 Greylisted, please retry in 2 seconds", result.ReplyTo("DATA")!.Text);
    }

    [Fact]
    public async Task Client_without_reverse_dns_is_greylisted()
    {
        var result = await fixture.SendToBobAsync("127.0.4.3", "ann@static.example");

        Assert.Equal("451 4.7.1 Greylisted, please retry in 2 seconds", result.ReplyTo("DATA")!.Text);
    }
}
