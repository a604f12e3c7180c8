using MilterHost.Chain;
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
    /// <param name="catalog">The filters this executable can build; null: the built-in ones.</param>
    public static ConfigLoadResult Load(string path, FilterCatalog? catalog = null)
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
        return Parse(text, path, Path.GetDirectoryName(fullPath) ?? "/", fullPath, catalog);
    }

    /// <summary>
    /// Checks configuration text that did not come from <see cref="Load"/> (tests, a future
    /// <c>--config -</c>). <paramref name="fileName"/> prefixes each error; relative paths in the
    /// text are resolved against <paramref name="baseDirectory"/>.
    /// </summary>
    /// <param name="fullPath">The absolute path reported as <see cref="LoadedConfig.Path"/>; null: <paramref name="fileName"/> resolved against <paramref name="baseDirectory"/>.</param>
    public static ConfigLoadResult Parse(string text, string fileName, string baseDirectory, string? fullPath = null, FilterCatalog? catalog = null)
    {
        catalog ??= FilterCatalog.BuiltIn;
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(baseDirectory);
        var binder = new Binder(fileName, Path.GetFullPath(baseDirectory));
        var (root, syntaxErrors) = YamlTree.Parse(text);
        foreach (var (line, column, message) in syntaxErrors)
            binder.Error(line, column, message);
        if (syntaxErrors.Count > 0)
            return ConfigLoadResult.Failed(binder.Errors);
        // An empty file is all defaults; check-config shows what that means.
        var node = root ?? new YScalar(1, 1, "", YamlDotNet.Core.ScalarStyle.Plain, Tagged: false);
        var sections = new Dictionary<string, object>(StringComparer.Ordinal);
        var plugInModes = new Dictionary<string, Milter.Filters.FilterMode>(StringComparer.Ordinal);
        node = ReadPlugInSections(binder, node, catalog, sections, plugInModes);
        ConfigSchema.Root.TryRead(binder, node, "", out var options);
        foreach (var (name, mode) in plugInModes)
            options = options with { FilterModes = ConfigSchema.WithMode(options.FilterModes, name, mode) };
        var warnings = new List<ConfigError>();
        if (binder.Errors.Count == 0)
            FilterOrder.Check(binder, node as YMapping, options, catalog, warnings);
        if (binder.Errors.Count > 0)
            return ConfigLoadResult.Failed([.. binder.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column)]);
        return ConfigLoadResult.Ok(new LoadedConfig
        {
            Path = fullPath ?? Path.GetFullPath(fileName, baseDirectory),
            Options = options,
            Positions = binder.Positions,
            Sections = sections,
            Warnings = warnings,
        });
    }

    /// <summary>
    /// Reads the top-level sections of plug-in filters, each with the <c>mode:</c> every filter's
    /// section takes; returns the rest for the core schema.
    /// </summary>
    private static YNode ReadPlugInSections(Binder binder, YNode root, FilterCatalog catalog, Dictionary<string, object> sections,
        Dictionary<string, Milter.Filters.FilterMode> modes)
    {
        if (root is not YMapping mapping)
            return root;
        var rest = new List<KeyValuePair<YScalar, YNode>>();
        foreach (var entry in mapping.Entries)
        {
            var plugIn = catalog.PlugIns.FirstOrDefault(r => r.SectionKey == entry.Key.Value);
            if (plugIn is null)
            {
                rest.Add(entry);
                continue;
            }
            if (sections.ContainsKey(plugIn.Name))
            {
                binder.Error(entry.Key, $"duplicate key '{entry.Key.Value}'");
                continue;
            }
            binder.Remember(entry.Key.Value, entry.Key);
            var ok = true;
            var own = ModeKey.Split(binder, entry.Value, entry.Key.Value, out var mode, ref ok);
            if (mode is { } m)
                modes[plugIn.Name] = m;
            if (plugIn.TryReadSection(binder, own, out var section) && ok)
                sections[plugIn.Name] = section;
        }
        return mapping with { Entries = rest };
    }

    private static ConfigLoadResult Unreadable(string path, string message) =>
        ConfigLoadResult.Failed([new ConfigError(path, 0, 0, message)]);
}
