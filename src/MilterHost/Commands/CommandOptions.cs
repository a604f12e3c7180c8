using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using MilterHost.Configuration;

namespace MilterHost.Commands;

/// <summary>Option builders shared by the admin commands: values read and refused exactly as in the config.</summary>
internal static class CommandOptions
{
    /// <summary>A positive duration written as in the config (<c>90s</c>, <c>24h</c>, <c>7d</c>).</summary>
    public static Option<TimeSpan> Duration(string name, TimeSpan defaultValue, string description) => new(name)
    {
        Description = description,
        HelpName = "DURATION",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (!Configuration.Duration.TryParse(text, out var duration, out var error))
                result.AddError($"{name}: {error}");
            else if (duration <= TimeSpan.Zero)
                result.AddError($"{name}: '{text}' must be longer than zero");
            return duration;
        },
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

    private static IPNetwork[] ParseNetworks(ArgumentResult result)
    {
        var networks = new List<IPNetwork>();
        foreach (var token in result.Tokens)
        {
            if (NetworkSyntax.TryParse(token.Value, out var network, out var error))
                networks.Add(network);
            else
                result.AddError(error!);
        }
        return [.. networks];
    }
}
