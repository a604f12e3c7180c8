namespace Milter.Filters.Tests.Support;

/// <summary>A directory of its own for one test, removed afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("milter-filters-").FullName;
    }

    public string Path { get; }

    /// <summary>Writes a file and gives it an explicit modification time, so reload tests do not depend on clock resolution.</summary>
    public string Write(string name, string text, DateTime? modifiedUtc = null)
    {
        var full = System.IO.Path.Combine(Path, name);
        File.WriteAllText(full, text);
        if (modifiedUtc is { } m)
            File.SetLastWriteTimeUtc(full, m);
        return full;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }
}
