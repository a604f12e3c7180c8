using MilterHost.Configuration;

namespace MilterHost.Tests;

/// <summary>A temporary directory holding a milterhost.yaml (and any files it names), removed afterwards.</summary>
internal sealed class ConfigDirectory : IDisposable
{
    public ConfigDirectory()
    {
        Path = Directory.CreateTempSubdirectory("milterhost-config-").FullName;
    }

    public string Path { get; }

    /// <summary>Writes a file in the directory and returns its full path.</summary>
    public string Write(string name, string text)
    {
        var full = System.IO.Path.Combine(Path, name);
        File.WriteAllText(full, text);
        return full;
    }

    /// <summary>Writes milterhost.yaml and loads it.</summary>
    public ConfigLoadResult Load(string yaml, out string path)
    {
        path = Write("milterhost.yaml", yaml);
        return ConfigLoader.Load(path);
    }

    /// <summary>Writes milterhost.yaml, loads it, and returns the errors as printed; fails the test if it loaded.</summary>
    public IReadOnlyList<string> Errors(string yaml, out string path)
    {
        var result = Load(yaml, out path);
        Assert.False(result.Success, "the configuration was expected to be refused");
        return [.. result.Errors.Select(e => e.ToString())];
    }

    /// <summary>Makes a FIFO (mkfifo(1)) in the folder and returns its path.</summary>
    public async Task<string> FifoAsync(string name)
    {
        var fifo = System.IO.Path.Combine(Path, name);
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]);
        await mkfifo.WaitForExitAsync();
        Assert.Equal(0, mkfifo.ExitCode);
        return fifo;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
