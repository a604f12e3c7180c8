namespace MilterHost.Configuration;

/// <summary>
/// The state of one load: where the file is (for errors and relative paths), every error found so
/// far, and where each setting was written. Codecs report into it and go on, so one run of
/// check-config lists every problem in the file.
/// </summary>
internal sealed class Binder(string file, string baseDirectory)
{
    private readonly List<ConfigError> _errors = [];
    private readonly List<ConfigError> _warnings = [];
    private readonly Dictionary<string, ConfigPosition> _positions = new(StringComparer.Ordinal);

    /// <summary>The file name as given, printed in front of each error.</summary>
    public string File { get; } = file;

    /// <summary>Relative paths in the file are resolved against this: the file's own directory.</summary>
    public string BaseDirectory { get; } = baseDirectory;

    public IReadOnlyList<ConfigError> Errors => _errors;

    public IReadOnlyDictionary<string, ConfigPosition> Positions => _positions;

    public void Error(int line, int column, string message) => _errors.Add(new ConfigError(File, line, column, message));

    /// <summary>Valid but likely not what was meant: printed as <c>file:line:column: warning: message</c>.</summary>
    public void Warning(YNode node, string message) => _warnings.Add(new ConfigError(File, node.Line, node.Column, "warning: " + message));

    public IReadOnlyList<ConfigError> Warnings => _warnings;

    public void Error(YNode node, string message) => Error(node.Line, node.Column, message);

    /// <summary>An error in another file the configuration makes milterhost read (sendmail.cf).</summary>
    public void ErrorIn(string file, int line, int column, string message) => _errors.Add(new ConfigError(file, line, column, message));

    /// <summary>Reports at the key, the value or the first offending character, whichever is known most precisely.</summary>
    public void Error(YScalar node, int? offset, string message) =>
        Error(node.Line, offset is { } o && node.ColumnOf(o) is { } column ? column : node.Column, message);

    public void Remember(string path, YNode node) => _positions[path] = new ConfigPosition(node.Line, node.Column);

    /// <summary>The scalar's text, or an "expected ..." error for nulls, lists and mappings.</summary>
    public bool TryScalar(YNode node, string path, string expected, out YScalar scalar)
    {
        if (node is YScalar s && !s.IsNull)
        {
            scalar = s;
            return true;
        }
        Error(node, $"{path}: expected {expected}, got {node.Describe()}");
        scalar = null!;
        return false;
    }

    /// <summary>
    /// Resolves a path against the config file's directory and reports it when there is no such
    /// file: a file the filters would later fail to read should fail check-config instead.
    /// </summary>
    public bool TryExistingFile(YScalar node, string path, string written, out string fullPath)
    {
        fullPath = "";
        if (written.Length == 0)
        {
            Error(node, $"{path}: no file name after the prefix");
            return false;
        }
        fullPath = Path.GetFullPath(written, BaseDirectory);
        if (System.IO.File.Exists(fullPath))
        {
            // A FIFO would hold the daemon's start (and check-config) in its read until someone wrote to it.
            var final = System.IO.File.ResolveLinkTarget(fullPath, returnFinalTarget: true)?.FullName ?? fullPath;
            if (!Native.Posix.TryStatusOfPath(final, out var status) || status.Regular)
                return true;
            Error(node, $"{path}: '{fullPath}' is {Native.FileKinds.Describe(status.Kind)}, not a file");
            return false;
        }
        Error(node, Directory.Exists(fullPath)
            ? $"{path}: '{fullPath}' is a directory, not a file"
            : $"{path}: file not found: {fullPath}");
        return false;
    }
}
