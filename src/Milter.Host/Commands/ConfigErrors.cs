using MilterHost.Configuration;

namespace MilterHost.Commands;

/// <summary>How commands report a configuration that failed to load.</summary>
internal static class ConfigErrors
{
    /// <summary>Every error on its own line (<c>file:line:column: message</c>), then a count.</summary>
    public static void Print(TextWriter error, IReadOnlyList<ConfigError> errors, string path) =>
        Print(error, errors.Select(e => e.ToString()).ToList(), path);

    /// <summary>Lines already placed (<c>file:line:column: message</c>, or a file of their own), then a count.</summary>
    public static void Print(TextWriter error, IReadOnlyList<string> errors, string path)
    {
        foreach (var e in errors)
            error.WriteLine(e);
        error.WriteLine(errors.Count == 1 ? $"1 error in {path}" : $"{errors.Count} errors in {path}");
    }
}
