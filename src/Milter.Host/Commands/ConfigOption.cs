using System.CommandLine;
using MilterHost.Configuration;

namespace MilterHost.Commands;

/// <summary><c>--config PATH</c>, the same for every command that reads milterhost.yaml.</summary>
public static class ConfigOption
{
    public static Option<string> Create() => new("--config", "-c")
    {
        Description = "The configuration file (YAML). Relative paths inside it are resolved against its directory.",
        HelpName = "PATH",
        DefaultValueFactory = _ => ConfigLoader.DefaultPath,
    };
}
