using System.Diagnostics.CodeAnalysis;

namespace MilterHost.Configuration;

/// <summary>Either a configuration that passed every check, or every error found (never both).</summary>
public sealed record ConfigLoadResult
{
    private ConfigLoadResult(LoadedConfig? config, IReadOnlyList<ConfigError> errors)
    {
        Config = config;
        Errors = errors;
    }

    public LoadedConfig? Config { get; }

    /// <summary>In file order; empty on success.</summary>
    public IReadOnlyList<ConfigError> Errors { get; }

    [MemberNotNullWhen(true, nameof(Config))]
    public bool Success => Config is not null;

    public static ConfigLoadResult Ok(LoadedConfig config) => new(config, []);

    public static ConfigLoadResult Failed(IReadOnlyList<ConfigError> errors) =>
        errors.Count == 0 ? throw new ArgumentException("a failed load has at least one error", nameof(errors)) : new(null, errors);
}
