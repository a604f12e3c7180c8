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
            // A FIFO would block the read until someone writes to it, and /dev/null reads as an empty file.
            var final = File.ResolveLinkTarget(fullPath, returnFinalTarget: true)?.FullName ?? fullPath;
            if (Native.Posix.TryStatusOfPath(final, out var status) && !status.Regular)
                return Unreadable(path, $"is {Native.FileKinds.Describe(status.Kind)}, not a configuration file");
            var info = new FileInfo(fullPath);
            if (info.Exists && info.Length > MaxFileBytes)
                return Unreadable(path, $"is larger than {MaxFileBytes / (1024 * 1024)} MiB; is this the right file?");
            var bytes = File.ReadAllBytes(fullPath);
            if (NotUtf8(path, bytes) is { } invalid)
                return invalid;
            text = Encoding.UTF8.GetString(bytes.AsSpan(bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0));
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
    /// The first byte that is not UTF-8, as an error at its line and column (a Latin-1 reply text would
    /// otherwise reach clients with U+FFFD in it), or null.
    /// </summary>
    private static ConfigLoadResult? NotUtf8(string path, byte[] bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes))
            return null;
        var valid = 0;
        while (Rune.DecodeFromUtf8(bytes.AsSpan(valid), out _, out var consumed) == System.Buffers.OperationStatus.Done)
            valid += consumed;
        var before = bytes.AsSpan(0, valid);
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        var line = before.Count((byte)'\n') + 1;
        var column = Encoding.UTF8.GetCharCount(before[lineStart..]) + 1;
        return ConfigLoadResult.Failed([new ConfigError(path, line, column, $"not UTF-8: byte 0x{bytes[valid]:X2} here is no character; save the file as UTF-8")]);
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
        // A file with no setting at all is far more often a mistake (an editor that truncated it, a
        // '>' for a '>>') than a wish for every default, and on a reload it would throw away the
        // running rules: refused. '{}' says every default on purpose.
        if (root is null)
        {
            binder.Error(1, 1, "the file holds no setting (empty, or only comments); write {} for every default");
            return ConfigLoadResult.Failed(binder.Errors);
        }
        var node = root;
        var sections = new Dictionary<string, object>(StringComparer.Ordinal);
        var plugInModes = new Dictionary<string, Milter.Filters.FilterMode>(StringComparer.Ordinal);
        node = ReadPlugInSections(binder, node, catalog, sections, plugInModes);
        ConfigSchema.Root.TryRead(binder, node, "", out var options);
        foreach (var (name, mode) in plugInModes)
            options = options with { FilterModes = ConfigSchema.WithMode(options.FilterModes, name, mode) };
        var warnings = new List<ConfigError>(binder.Warnings);
        // Every error at once: filters: is checked beside the file's other errors.
        FilterOrder.Check(binder, node as YMapping, options, catalog, warnings, relayValid: binder.Errors.Count == 0);
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
