using System.Net.Sockets;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>
/// One daemon test's folder under /var/lib/milterhost-test (never /tmp: sendmail refuses unsafe
/// paths there): the config file, the milter socket and the database. Deleted on dispose.
/// </summary>
public sealed class DaemonSandbox : IDisposable
{
    private const string Root = "/var/lib/milterhost-test";

    public DaemonSandbox(string name, string? directory = null)
    {
        Directory = directory ?? Path.Combine(Root, $"daemon-{name}-{Environment.ProcessId}-{Guid.NewGuid():N}"[..^24]);
        System.IO.Directory.CreateDirectory(Directory);
        _owned = directory is null;
    }

    private readonly bool _owned;

    public string Directory { get; }

    public string SocketPath => Path.Combine(Directory, "milter.sock");

    public UnixDomainSocketEndPoint Endpoint => new(SocketPath);

    public string ConfigPath => Path.Combine(Directory, "milterhost.yaml");

    /// <summary>Writes <paramref name="config"/> to <see cref="ConfigPath"/> (or <paramref name="path"/>); returns the path.</summary>
    public string Write(DaemonConfig config, string? path = null)
    {
        path ??= ConfigPath;
        File.WriteAllText(path, config.Render(Directory));
        return path;
    }

    /// <summary>Writes the config and starts <c>milterhost run</c> on it; returns once it logged that it started.</summary>
    public Task<MilterHostProcess> StartAsync(DaemonConfig config, SyslogSink? syslog = null, IReadOnlyDictionary<string, string>? environment = null,
        IReadOnlyList<string>? launcher = null) =>
        MilterHostProcess.StartAsync(Write(config), syslog, environment: environment, launcher: launcher);

    public void Dispose()
    {
        if (_owned && System.IO.Directory.Exists(Directory))
            System.IO.Directory.Delete(Directory, recursive: true);
    }
}
