using Milter.Protocol.Session;

namespace Milter.Protocol.Tests;

public class MacroTableTests
{
    private static List<KeyValuePair<string, string>> Pairs(params (string Name, string Value)[] pairs) =>
        [.. pairs.Select(p => new KeyValuePair<string, string>(p.Name, p.Value))];

    [Fact]
    public void A_name_is_found_with_or_without_its_braces_whichever_way_it_was_sent()
    {
        var macros = new MacroTable();
        macros.SetStage('C', Pairs(("{client_addr}", "192.0.2.1"), ("j", "mx.example.com")));

        Assert.Equal("192.0.2.1", macros.Get("client_addr"));
        Assert.Equal("192.0.2.1", macros.Get("{client_addr}"));
        Assert.Equal("mx.example.com", macros.Get("{j}"));
        Assert.Null(macros.Get("{client_addr"));
        Assert.Null(macros.Get("{}"));
        Assert.Equal(2, macros.Count);
    }

    [Fact]
    public void Within_a_packet_the_last_spelling_of_a_name_wins_and_counts_once()
    {
        var macros = new MacroTable();
        macros.SetStage('M', Pairs(("{mail_addr}", "a@example.com"), ("mail_addr", "b@example.com")));

        Assert.Equal("b@example.com", macros.Get("{mail_addr}"));
        Assert.Equal(1, macros.Count);
        Assert.Equal(new Dictionary<string, string> { ["mail_addr"] = "b@example.com" }, macros.Snapshot());
    }

    [Fact]
    public void A_later_stage_wins_and_clearing_the_message_brings_the_connection_value_back()
    {
        var macros = new MacroTable();
        macros.SetStage('C', Pairs(("i", "conn")));
        macros.SetStage('M', Pairs(("{i}", "6ASKqX0x009129")));

        Assert.Equal("6ASKqX0x009129", macros.Get("i"));
        Assert.Equal("6ASKqX0x009129", macros.Snapshot()["i"]);
        macros.ClearMessage();
        Assert.Equal("conn", macros.Get("{i}"));
        Assert.Equal(1, macros.Count);
    }
}
