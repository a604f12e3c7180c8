using System.Net;
using System.Net.Sockets;
using MilterHost.Native;

namespace MilterHost.Listening;

/// <summary>Thrown when the listening socket cannot be set up; the message is for the postmaster.</summary>
internal sealed class ListenerException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Binds the socket sendmail connects to: a Unix socket file with the configured mode and group, or
/// a TCP port. Done before privileges are dropped, so /run paths and low ports work.
/// </summary>
internal static class ListenerBinder
{
    /// <summary>Backlog: sendmail opens one connection per SMTP session; bursts of spam open many at once.</summary>
    private const int Backlog = 1024;

    /// <summary>
    /// Binds a Unix socket at <paramref name="path"/> with permission bits <paramref name="mode"/>
    /// and group <paramref name="group"/>. Whatever is at the path is removed only when
    /// <c>lstat</c> shows a socket that nothing answers on (a stale one from a crash); a live socket
    /// means another instance runs, and anything else (a file, a folder, a symbolic link) is left
    /// alone: both refuse the start.
    /// </summary>
    /// <remarks>
    /// The folder may belong to the unprivileged user milterhost runs as, who could swap the new
    /// socket for a symbolic link between bind and a chmod or chown by path. So nothing is changed by
    /// path after bind: the mode comes from the umask at bind, the group from the file-system group id
    /// of the binding thread (as root); the result is checked through an <c>O_PATH</c> descriptor of the
    /// entry itself, and only as a non-root member of the group (which cannot set that id) is the
    /// group handed over through that descriptor.
    /// </remarks>
    public static Socket BindUnix(string path, string mode, string? group)
    {
        var full = Path.GetFullPath(path);
        CreateFolder("listen", Path.GetDirectoryName(full)!);
        var permissions = ParseMode(mode);
        uint? gid = group is null ? null : Posix.FindGroup(group) ?? throw new ListenerException($"socket.group: no group named '{group}'");
        RemoveStaleSocket(full);

        var socket = UnixSocketCreation.Bind(full, permissions, gid, Backlog);
        try
        {
            UnixSocketCreation.Check(full, permissions, gid, group);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return socket;
    }

    /// <summary>
    /// Creates the folder a setting's file goes in, with a refusal that names the setting and the
    /// folder (the runtime's own says only "Access to the path '/x' is denied").
    /// </summary>
    public static void CreateFolder(string setting, string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var why = e is UnauthorizedAccessException ? "permission denied" : e.Message.TrimEnd('.');
            throw new ListenerException($"{setting}: cannot create the folder {folder} ({why}); create it, or correct the path", e);
        }
    }

    /// <summary>Binds a TCP listener (sendmail's <c>inet:PORT@HOST</c> / <c>inet6:PORT@HOST</c>).</summary>
    public static Socket BindTcp(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false;
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(Backlog);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ListenerException($"cannot listen on {address}:{port}: {e.Message}", e);
        }
    }

    /// <summary>Resolves the HOST of <c>inet:PORT@HOST</c>: an address literal, or a name from /etc/hosts.</summary>
    public static IPAddress ResolveHost(string host, AddressFamily family)
    {
        var h = host.Trim('[', ']');
        if (IPAddress.TryParse(h, out var ip))
            return ip;
        if (h is "localhost" or "")
            return family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
        var found = Dns.GetHostAddresses(h).FirstOrDefault(a => a.AddressFamily == family);
        return found ?? throw new ListenerException($"cannot resolve listen host '{host}'");
    }

    /// <summary>Unlinks a stale socket at <paramref name="full"/>; refuses a live one and anything that is not a socket.</summary>
    private static void RemoveStaleSocket(string full)
    {
        var entry = FileEntry.OfPath(full);
        if (entry.Kind == FileKind.Missing)
            return;
        if (entry.Kind != FileKind.Socket)
            throw new ListenerException($"{full} is {entry.Describe(full)}, not a socket; milterhost replaces only a stale socket there. Check listen: (a typo?) or move it away");
        if (IsAlive(full))
            throw new ListenerException($"another milter is already listening on {full}; stop it first (or choose another listen: path)");
        File.Delete(full);
    }

    // Without waiting: a blocking connect to a live daemon whose accept queue is full waits for a
    // place in it (the start would hang), and that daemon is as alive as one that answers. Only a
    // refusal (nothing listening) or a vanished file says stale; anything else (EACCES, say) cannot
    // tell, and a socket that may be live is never unlinked.
    private static bool IsAlive(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.TryAgain or SocketError.InProgress)
        {
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            return false;
        }
        catch (SocketException e)
        {
            throw new ListenerException($"cannot tell whether a milter still listens on {path} ({e.Message}); remove it by hand if none does", e);
        }
    }

    private static UnixFileMode ParseMode(string mode)
    {
        try
        {
            return (UnixFileMode)Convert.ToInt32(mode, 8);
        }
        catch (FormatException e)
        {
            throw new ListenerException($"socket.mode '{mode}' is not an octal mode", e);
        }
    }
}
