using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using MilterHost.Configuration;

namespace MilterHost.Commands;

/// <summary>Option builders shared by the admin commands: values read and refused exactly as in the config.</summary>
internal static class CommandOptions
{
    /// <summary>A positive duration written as in the config (<c>90s</c>, <c>24h</c>, <c>7d</c>).</summary>
    public static Option<CliDuration> Duration(string name, TimeSpan defaultValue, string description) => new(name)
    {
        Description = description,
        HelpName = "DURATION",
        DefaultValueFactory = _ => new CliDuration(defaultValue),
        CustomParser = result => new CliDuration(ParseDuration(result, name)),
    };

    /// <summary>Like <see cref="Duration"/>, but null when not given.</summary>
    public static Option<TimeSpan?> OptionalDuration(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "DURATION",
        CustomParser = result => ParseDuration(result, name),
    };

    private static TimeSpan ParseDuration(ArgumentResult result, string name)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (!Configuration.Duration.TryParse(text, out var duration, out var error))
            result.AddError($"{name}: {error}");
        else if (duration <= TimeSpan.Zero)
            result.AddError($"{name}: '{text}' must be longer than zero");
        return duration;
    }

    /// <summary>One network or address, as an option (<c>--client 192.0.2.0/24</c>).</summary>
    public static Option<IPNetwork?> Network(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "CIDR",
        CustomParser = result => ParseNetwork(result),
    };

    /// <summary>One network or address, as the command's argument (<c>ban add 192.0.2.0/24</c>).</summary>
    public static Argument<IPNetwork> NetworkArgument(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result => ParseNetwork(result) ?? default,
    };

    private static IPNetwork? ParseNetwork(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (NetworkSyntax.TryParse(text, out var network, out var error))
            return network;
        result.AddError(error!);
        return null;
    }

    /// <summary><c>--json</c>: the listing commands' machine-readable output.</summary>
    public static Option<bool> Json() => new("--json") { Description = "Write JSON instead of a table." };

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

/// <summary>A duration given on the command line; shown in --help as it is written (<c>24h</c>, not <c>1.00:00:00</c>).</summary>
internal readonly record struct CliDuration(TimeSpan Value)
{
    public override string ToString() => Configuration.Duration.Format(Value);
}
