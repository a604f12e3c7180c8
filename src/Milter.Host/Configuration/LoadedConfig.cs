using Milter.Filters.Configuration;

namespace MilterHost.Configuration;

/// <summary>
/// A configuration that passed every check: the options the filters and the daemon run on, with
/// every relative path already made absolute (against the file's directory), plus the parsed
/// forms of the settings the daemon acts on itself.
/// </summary>
public sealed record LoadedConfig
{
    /// <summary>The absolute path of the file it was read from.</summary>
    public required string Path { get; init; }

    public required DaemonOptions Options { get; init; }

    /// <summary>Where each setting was written, keyed like the messages: <c>greylist.delay</c>, <c>ban#3</c>, <c>ban#3.reply</c>.</summary>
    public IReadOnlyDictionary<string, ConfigPosition> Positions { get; init; } = new Dictionary<string, ConfigPosition>();

    /// <summary>The sections of plug-in filters, by filter name, as their <c>FilterSection</c> read them.</summary>
    public IReadOnlyDictionary<string, object> Sections { get; init; } = new Dictionary<string, object>();

    /// <summary>What is valid but probably not meant (relay control switched off); check-config prints them.</summary>
    public IReadOnlyList<ConfigError> Warnings { get; init; } = [];

    /// <summary><see cref="DaemonOptions.Listen"/>, parsed.</summary>
    public ListenAddress Listen => ListenAddress.Parse(Options.Listen);

    /// <summary><see cref="DaemonOptions.Database"/>, parsed.</summary>
    public DatabaseAddress Database => DatabaseAddress.Parse(Options.Database);

    /// <summary><see cref="SocketOptions.Mode"/> as permission bits for the Unix socket file.</summary>
    public UnixFileMode SocketMode => (UnixFileMode)Convert.ToInt32(Options.Socket.Mode, 8);

    /// <summary><c>file:line:column</c> of a setting, or the file alone when it was not written (a default).</summary>
    public string Describe(string setting) =>
        Positions.TryGetValue(setting, out var at) ? $"{Path}:{at.Line}:{at.Column}" : Path;
}
