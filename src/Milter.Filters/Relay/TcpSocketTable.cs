using System.Buffers.Binary;
using System.Globalization;
using System.Net;

namespace Milter.Filters.Relay;

/// <summary>
/// The kernel's table of TCP sockets (<c>/proc/net/tcp</c> and <c>/proc/net/tcp6</c>) of this host's
/// network namespace: who owns the client end of a connection made on this machine. A connection
/// between two local sockets appears twice, once from each end; the client's entry is the one whose
/// local end is the client's address and port and whose remote end is the MTA.
/// </summary>
public sealed class TcpSocketTable
{
    /// <summary>The tables of the namespace the daemon runs in.</summary>
    public const string DefaultDirectory = "/proc/net";

    // include/net/tcp_states.h: TCP_ESTABLISHED = 1.
    private const int Established = 1;

    private readonly string _directory;

    /// <param name="directory">The folder holding <c>tcp</c> and <c>tcp6</c>.</param>
    public TcpSocketTable(string directory = DefaultDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _directory = directory;
    }

    /// <summary>
    /// The uid owning the ESTABLISHED socket whose local end is <paramref name="client"/> and whose
    /// remote end is the MTA at <paramref name="serverPort"/> (0: any port) and
    /// <paramref name="serverAddress"/> (null: any address, for an MTA listening on every address).
    /// Null when no such socket exists, or when several sockets of different owners match (only
    /// possible without the MTA's port): a guess could name the wrong user. Blocks on file reads.
    /// </summary>
    /// <exception cref="IOException">Neither table can be read.</exception>
    public uint? FindOwner(IPEndPoint client, IPAddress? serverAddress, int serverPort)
    {
        ArgumentNullException.ThrowIfNull(client);
        var clientAddress = Normalize(client.Address);
        var server = serverAddress is null ? null : Normalize(serverAddress);
        uint? owner = null;
        var readable = 0;
        IOException? failure = null;
        foreach (var file in (string[])["tcp", "tcp6"])
        {
            IEnumerable<string> lines;
            try
            {
                lines = File.ReadLines(Path.Combine(_directory, file));
                readable++;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                failure = new IOException($"cannot read {Path.Combine(_directory, file)}: {ex.Message}", ex);
                continue;
            }
            foreach (var line in lines)
            {
                if (!TryParse(line, out var entry) || entry.State != Established
                    || entry.Local.Port != client.Port || !entry.Local.Address.Equals(clientAddress)
                    || (serverPort != 0 && entry.Remote.Port != serverPort)
                    || (server is not null && !entry.Remote.Address.Equals(server)))
                    continue;
                if (owner is { } known && known != entry.Uid)
                    return null;
                owner = entry.Uid;
            }
        }
        if (readable == 0)
            throw failure!;
        return owner;
    }

    /// <summary>
    /// One line of <c>/proc/net/tcp</c> or <c>tcp6</c> (<c>sl local_address rem_address st ... uid ...</c>);
    /// false for the heading and anything else that does not parse.
    /// </summary>
    public static bool TryParse(string line, out TcpSocketEntry entry)
    {
        ArgumentNullException.ThrowIfNull(line);
        entry = default;
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // sl, local, remote, st, tx:rx, tr:when, retrnsmt, uid, ...
        if (fields.Length < 8 || !fields[0].EndsWith(':'))
            return false;
        if (!TryParseEndPoint(fields[1], out var local) || !TryParseEndPoint(fields[2], out var remote)
            || !int.TryParse(fields[3], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var state)
            || !uint.TryParse(fields[7], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
            return false;
        entry = new TcpSocketEntry(local, remote, state, uid);
        return true;
    }

    // "0100007F:0CEA": the address as the kernel holds it in memory (32-bit words in host byte
    // order, printed as hex numbers), the port as a number.
    private static bool TryParseEndPoint(string text, out IPEndPoint endPoint)
    {
        endPoint = null!;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon is not (8 or 32) || text.Length - colon - 1 != 4
            || !ushort.TryParse(text.AsSpan(colon + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var port))
            return false;
        Span<byte> bytes = stackalloc byte[colon / 2];
        for (var word = 0; word < colon / 8; word++)
        {
            if (!uint.TryParse(text.AsSpan(word * 8, 8), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
                return false;
            var target = bytes.Slice(word * 4, 4);
            if (BitConverter.IsLittleEndian)
                BinaryPrimitives.WriteUInt32LittleEndian(target, value);
            else
                BinaryPrimitives.WriteUInt32BigEndian(target, value);
        }
        endPoint = new IPEndPoint(Normalize(new IPAddress(bytes)), port);
        return true;
    }

    // An IPv4 client of an IPv6 socket shows as ::ffff:a.b.c.d in tcp6 and as a.b.c.d in tcp.
    private static IPAddress Normalize(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
