using System.Runtime.InteropServices;
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
    /// Binds a Unix socket at <paramref name="path"/>. An existing file is removed only when a connect
    /// to it fails (a stale socket from a crash); when something answers, another instance is running
    /// and we refuse to start.
    /// </summary>
    public static Socket BindUnix(string path, string mode, string? group)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        if (File.Exists(full) || IsSocketFile(full))
        {
            if (IsAlive(full))
                throw new ListenerException($"another milter is already listening on {full}; stop it first (or choose another listen: path)");
            File.Delete(full);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(full));
            socket.Listen(Backlog);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ListenerException($"cannot listen on unix:{full}: {e.Message}", e);
        }

        try
        {
            File.SetUnixFileMode(full, ParseMode(mode));
            if (group is not null)
            {
                var gid = Posix.FindGroup(group) ?? throw new ListenerException($"socket.group: no group named '{group}'");
                if (Posix.Chown(full, uint.MaxValue, gid) != 0)
                    throw new ListenerException($"cannot give {full} to group {group}: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        catch
        {
            socket.Dispose();
            File.Delete(full);
            throw;
        }
        return socket;
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

    private static bool IsSocketFile(string path)
    {
        try
        {
            return (File.GetAttributes(path) & FileAttributes.Normal) == 0 && Path.Exists(path);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static bool IsAlive(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
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
