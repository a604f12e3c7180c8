using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using MilterHost.Tools;

namespace MilterHost.Commands;

/// <summary>Option builders shared by the admin commands, so values are read and refused alike.</summary>
internal static class CommandOptions
{
    /// <summary>A duration written as in the config (<c>90s</c>, <c>24h</c>, <c>7d</c>).</summary>
    public static Option<TimeSpan> Duration(string name, TimeSpan defaultValue, string description) => new(name)
    {
        Description = description,
        HelpName = "DURATION",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = ParseDuration,
    };

    /// <summary>A network (<c>192.0.2.0/24</c>) or one address (<c>192.0.2.7</c>, <c>2001:db8::1</c>), repeatable.</summary>
    public static Option<IPNetwork[]> Networks(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "CIDR",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
        DefaultValueFactory = _ => [],
        CustomParser = ParseNetworks,
    };

    private static TimeSpan ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (DurationText.TryParse(text, out var duration))
            return duration;
        result.AddError($"'{text}' is not a duration: write a number and a unit, e.g. 90s, 30m, 24h, 7d.");
        return default;
    }

    private static IPNetwork[] ParseNetworks(ArgumentResult result)
    {
        var networks = new List<IPNetwork>();
        foreach (var token in result.Tokens)
        {
            if (IPNetwork.TryParse(token.Value, out var network))
                networks.Add(network);
            else if (IPAddress.TryParse(token.Value, out var address))
                networks.Add(new IPNetwork(address, address.GetAddressBytes().Length * 8));
            else
                result.AddError($"'{token.Value}' is not an address or CIDR network (e.g. 192.0.2.0/24, 2001:db8::/32).");
        }
        return [.. networks];
    }
}
