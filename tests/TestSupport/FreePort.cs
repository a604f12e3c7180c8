using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Milter.TestSupport;

/// <summary>Finds TCP ports on loopback that nobody listens on, for servers a test starts.</summary>
public static class FreePort
{
    private const int LowestCandidate = 20000;
    private const int Attempts = 500;

    /// <summary>
    /// A port free on both 127.0.0.1 and ::1, picked at random below the kernel's ephemeral range,
    /// so it does not collide with outgoing connections and parallel test runs rarely pick the same one.
    /// Another process may still take it before the caller binds; servers started on it should retry on a new port.
    /// </summary>
    public static int Next()
    {
        var highest = EphemeralRangeStart() - 1;
        if (highest <= LowestCandidate)
        {
            highest = IPEndPoint.MaxPort;
        }

        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var port = Random.Shared.Next(LowestCandidate, highest + 1);
            if (IsFree(IPAddress.Loopback, port) && IsFree(IPAddress.IPv6Loopback, port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"No free loopback port found in {Attempts} attempts between {LowestCandidate} and {highest}.");
    }

    private static bool IsFree(IPAddress address, int port)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported)
        {
            // A host without ::1 cannot have a listener there either.
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int EphemeralRangeStart()
    {
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split(['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(fields[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 32768;
        }
    }
}
