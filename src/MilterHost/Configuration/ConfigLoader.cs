using System.Text;

namespace MilterHost.Configuration;

/// <summary>
/// Reads and checks milterhost.yaml. Independent of the daemon: check-config, start-up and
/// SIGHUP reload all call <see cref="Load"/>, and a reload swaps in the result only when it
/// succeeded. Relative paths in the file (sockets, databases, log files, <c>file:</c>,
/// <c>aliases:</c>, <c>virtusertable:</c>) are resolved against the file's own directory, so the
/// meaning of a file never depends on where the daemon was started from.
/// </summary>
public static class ConfigLoader
{
    /// <summary>Where <c>run</c> and <c>check-config</c> look without <c>--config</c>.</summary>
    public const string DefaultPath = "/etc/milterhost/milterhost.yaml";

    // A configuration is a few kilobytes; this only stops a wrong --config (a log, a device) from being slurped.
    private const long MaxFileBytes = 4 * 1024 * 1024;

    /// <summary>Reads, parses and checks the file. Errors name the file as <paramref name="path"/> was written.</summary>
    public static ConfigLoadResult Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        string fullPath;
        try
        {
            fullPath = Path.GetFullPath(path);
            if (Directory.Exists(fullPath))
                return Unreadable(path, "is a directory, not a configuration file");
            var info = new FileInfo(fullPath);
            if (info.Exists && info.Length > MaxFileBytes)
                return Unreadable(path, $"is larger than {MaxFileBytes / (1024 * 1024)} MiB; is this the right file?");
            text = File.ReadAllText(fullPath, Encoding.UTF8);
        }
        catch (FileNotFoundException)
        {
            return Unreadable(path, "cannot read the configuration: no such file");
        }
        catch (DirectoryNotFoundException)
        {
            return Unreadable(path, "cannot read the configuration: no such directory");
        }
        catch (UnauthorizedAccessException)
        {
            return Unreadable(path, "cannot read the configuration: permission denied");
        }
        catch (IOException ex)
        {
            return Unreadable(path, "cannot read the configuration: " + ex.Message);
        }
        return Parse(text, path, Path.GetDirectoryName(fullPath) ?? "/", fullPath);
    }

    /// <summary>
    /// Checks configuration text that did not come from <see cref="Load"/> (tests, a future
    /// <c>--config -</c>). <paramref name="fileName"/> prefixes each error; relative paths in the
    /// text are resolved against <paramref name="baseDirectory"/>.
    /// </summary>
    /// <param name="fullPath">The absolute path reported as <see cref="LoadedConfig.Path"/>; null: <paramref name="fileName"/> resolved against <paramref name="baseDirectory"/>.</param>
    public static ConfigLoadResult Parse(string text, string fileName, string baseDirectory, string? fullPath = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(baseDirectory);
        var binder = new Binder(fileName, Path.GetFullPath(baseDirectory));
        var (root, syntaxErrors) = YamlTree.Parse(new StringReader(text));
        foreach (var (line, column, message) in syntaxErrors)
            binder.Error(line, column, message);
        if (syntaxErrors.Count > 0)
            return ConfigLoadResult.Failed(binder.Errors);
        // An empty file is all defaults; check-config shows what that means.
        var node = root ?? new YScalar(1, 1, "", YamlDotNet.Core.ScalarStyle.Plain, Tagged: false);
        ConfigSchema.Root.TryRead(binder, node, "", out var options);
        if (binder.Errors.Count > 0)
            return ConfigLoadResult.Failed([.. binder.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column)]);
        return ConfigLoadResult.Ok(new LoadedConfig
        {
            Path = fullPath ?? Path.GetFullPath(fileName, baseDirectory),
            Options = options,
            Positions = binder.Positions,
        });
    }

    private static ConfigLoadResult Unreadable(string path, string message) =>
        ConfigLoadResult.Failed([new ConfigError(path, 0, 0, message)]);
}
