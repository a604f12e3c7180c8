using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Milter.Filters.Recipients;
using MilterHost.Configuration;
using MilterHost.Listening;
using MilterHost.Native;
using MilterHost.Privileges;

namespace MilterHost.Hosting;

/// <summary>
/// The first hosted service: binds the socket sendmail connects to as whoever started us (so /run
/// paths and low ports work), then drops privileges to <c>user:</c>. Every service after it opens
/// its files as that user. The socket is served by <see cref="MilterListener"/>, which starts last.
/// </summary>
internal sealed class ListeningSocket(LoadedConfig config, ILogger<ListeningSocket> logger) : IHostedService
{
    private readonly Lock _closing = new();
    private Socket? _socket;
    private string? _unixPath;

    /// <summary>The bound socket; the host starts this service before anyone asks.</summary>
    public Socket Socket => _socket ?? throw new InvalidOperationException("the socket is bound when the host starts");

    /// <summary>What the privilege drop did, for the start line.</summary>
    public string Privileges { get; private set; } = "";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var options = config.Options;
        var listen = config.Listen;
        // A start that will be refused (root without user:, say) creates no folder and binds nothing:
        // a root-owned folder left behind would stop the next, correct start.
        var dropTo = PrivilegeDropper.Check(options.User);
        if (listen.Family == ListenFamily.Unix)
        {
            PrepareDirectory("listen", listen.Path!, dropTo);
            _socket = ListenerBinder.BindUnix(listen.Path!, options.Socket.Mode, options.Socket.Group);
            _unixPath = listen.Path;
        }
        else
        {
            var family = listen.Family == ListenFamily.Inet ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
            _socket = ListenerBinder.BindTcp(ListenerBinder.ResolveHost(listen.Host!, family), listen.Port);
        }
        if (config.Database.Kind == DatabaseKind.Sqlite)
            PrepareDirectory("database", config.Database.Target, dropTo);
        Privileges = PrivilegeDropper.Apply(options.User);
        // Only now: the first line logged opens log.file, which must be opened as user:, not as root
        // (a root-owned log cannot be rotated by the daemon's user, and root would follow a link
        // planted in the log folder).
        foreach (var warning in ConfigWarnings.Of(config))
            HostLog.ConfigWarning(logger, warning);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops accepting: closes the socket and removes its file, once. Refused at once rather than
    /// queued in the kernel while sessions drain, new connections make sendmail apply its F= flag.
    /// </summary>
    public void Close()
    {
        lock (_closing)
        {
            if (_socket is null)
                return;
            _socket.Dispose();
            _socket = null;
            if (_unixPath is null)
                return;
            try
            {
                File.Delete(_unixPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // After the privilege drop the socket's folder may belong to root; the next start
                // finds the file dead and removes it.
                HostLog.SocketNotRemoved(logger, _unixPath, e.Message);
            }
        }
    }

    /// <summary>Also when a later service failed to start: leave no dead socket file behind.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        Close();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Started as root for a file (the SQLite database, the Unix socket) in a folder that does not
    /// exist yet: create the folder for the user we are about to become, so that it can write the
    /// database there and remove its socket on exit after the drop.
    /// </summary>
    /// <param name="dropTo">The account root drops to (<see cref="PrivilegeDropper.Check"/>); null: no drop, nothing to prepare.</param>
    private static void PrepareDirectory(string setting, string file, LocalAccount? dropTo)
    {
        if (dropTo is null)
            return;
        var dir = Path.GetDirectoryName(Path.GetFullPath(file));
        if (dir is null || Directory.Exists(dir))
            return;
        ListenerBinder.CreateFolder(setting, dir);
        _ = Posix.Chown(dir, dropTo.Uid, dropTo.Gid);
    }
}
