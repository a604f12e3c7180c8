using Microsoft.Extensions.Logging;
using Milter.Filters.Logging;

namespace Milter.Filters.Recipients;

/// <summary>
/// A source file kept in memory and re-read when its modification time or size changes. The file
/// is looked at (one stat) at most once per check interval, whatever the traffic; lookups between
/// checks touch no disk. A file that cannot be re-read keeps its previous contents.
/// </summary>
internal sealed class WatchedFile<T> where T : class
{
    private readonly string _source;
    private readonly Func<IEnumerable<string>, Action<int, string>, (T Value, int Entries)> _parse;
    private readonly TimeProvider _time;
    private readonly TimeSpan _checkInterval;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private volatile T _value;
    private int _entries;
    private DateTimeOffset _lastCheck;
    private (DateTime Modified, long Length) _stamp;
    private bool _failing;

    /// <exception cref="IOException">The file cannot be read now, at start: a configuration error.</exception>
    public WatchedFile(string source, string path, Func<IEnumerable<string>, Action<int, string>, (T Value, int Entries)> parse,
        TimeProvider time, TimeSpan checkInterval, ILogger logger)
    {
        _source = source;
        Path = path;
        _parse = parse;
        _time = time;
        _checkInterval = checkInterval;
        _logger = logger;
        try
        {
            (_value, _entries, _stamp) = Read();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"recipients.sources: cannot read {source} file {path}: {ex.Message}", ex);
        }
        _lastCheck = time.GetUtcNow();
    }

    public string Path { get; }

    /// <summary>The contents, re-read first if the check interval has passed and the file changed.</summary>
    public T Current
    {
        get
        {
            if (_time.GetUtcNow() - _lastCheck >= _checkInterval)
                Refresh();
            return _value;
        }
    }

    private void Refresh()
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (now - _lastCheck < _checkInterval)
                return; // another session checked while we waited
            _lastCheck = now;
            try
            {
                if (Stamp() == _stamp)
                    return;
                (var value, _entries, _stamp) = Read();
                _value = value;
                _failing = false;
                _logger.RecipientSourceLoaded(_source, Path, _entries);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                if (!_failing)
                    _logger.RecipientSourceReloadFailed(_source, Path, _entries, ex);
                _failing = true; // say it once, not at every check
            }
        }
    }

    private (T Value, int Entries, (DateTime, long) Stamp) Read()
    {
        // Stamp first: a write landing during the read is seen at the next check.
        var stamp = Stamp();
        var lines = File.ReadAllLines(Path);
        var (value, entries) = _parse(lines, (line, problem) => _logger.RecipientSourceBadLine(Path, line, problem));
        return (value, entries, stamp);
    }

    private (DateTime, long) Stamp()
    {
        var info = new FileInfo(Path);
        if (!info.Exists)
            throw new FileNotFoundException("no such file", Path);
        return (info.LastWriteTimeUtc, info.Length);
    }
}
