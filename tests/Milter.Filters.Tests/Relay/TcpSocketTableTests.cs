using System.Net;
using System.Net.Sockets;
using Milter.Filters.Relay;

namespace Milter.Filters.Tests.Relay;

/// <summary>The kernel's TCP table read back for connections this test opens itself.</summary>
public sealed class TcpSocketTableTests
{
    private static readonly TcpSocketTable Table = new();

    /// <summary>This process's effective uid, as /proc/self/status states it.</summary>
    internal static uint OwnUid()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        return uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A connected pair over loopback: the listener's port, the client socket and the accepted one.</summary>
    internal sealed class Pair : IDisposable
    {
        private readonly TcpListener _listener;

        public Pair(IPAddress listen, IPAddress? connectTo = null)
        {
            _listener = new TcpListener(listen, 0);
            if (listen.Equals(IPAddress.IPv6Any))
                _listener.Server.DualMode = true;
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            Client = new TcpClient(connectTo?.AddressFamily ?? listen.AddressFamily);
            Client.Connect(connectTo ?? listen, Port);
            Server = _listener.AcceptTcpClient();
        }

        public int Port { get; }
        public TcpClient Client { get; }
        public TcpClient Server { get; }
        public IPEndPoint ClientEnd => (IPEndPoint)Client.Client.LocalEndPoint!;

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
            _listener.Stop();
        }
    }

    [Fact]
    public void The_owner_of_an_IPv4_client_socket_is_found_by_both_ends()
    {
        using var pair = new Pair(IPAddress.Loopback);

        Assert.Equal(OwnUid(), Table.FindOwner(pair.ClientEnd, IPAddress.Loopback, pair.Port));
        Assert.Equal(OwnUid(), Table.FindOwner(pair.ClientEnd, null, pair.Port));
    }

    [Fact]
    public void The_owner_of_an_IPv6_client_socket_is_found_by_both_ends()
    {
        using var pair = new Pair(IPAddress.IPv6Loopback);

        Assert.Equal(AddressFamily.InterNetworkV6, pair.ClientEnd.AddressFamily);
        Assert.Equal(OwnUid(), Table.FindOwner(pair.ClientEnd, IPAddress.IPv6Loopback, pair.Port));
    }

    [Fact]
    public void An_IPv4_client_of_a_dual_stack_listener_is_found_by_its_IPv4_and_its_mapped_address()
    {
        using var pair = new Pair(IPAddress.IPv6Any, IPAddress.Loopback);

        Assert.Equal(OwnUid(), Table.FindOwner(pair.ClientEnd, IPAddress.Loopback, pair.Port));
        Assert.Equal(OwnUid(), Table.FindOwner(new IPEndPoint(pair.ClientEnd.Address.MapToIPv6(), pair.ClientEnd.Port), IPAddress.Loopback.MapToIPv6(), pair.Port));
    }

    [Fact]
    public void The_MTA_end_of_the_same_connection_is_not_taken_for_the_client()
    {
        using var pair = new Pair(IPAddress.Loopback);
        var serverEnd = (IPEndPoint)pair.Server.Client.LocalEndPoint!;

        // The accepted socket's local end is the MTA's; asking for it as a client finds nothing going to the client's port.
        Assert.Null(Table.FindOwner(serverEnd, IPAddress.Loopback, pair.ClientEnd.Port + 1));
        Assert.Null(Table.FindOwner(pair.ClientEnd, IPAddress.Loopback, pair.Port == 65535 ? 1 : pair.Port + 1));
        Assert.Null(Table.FindOwner(pair.ClientEnd, IPAddress.Parse("127.0.0.2"), pair.Port));
    }

    [Fact]
    public void A_closed_connection_has_no_owner()
    {
        IPEndPoint client;
        int port;
        using (var pair = new Pair(IPAddress.Loopback))
        {
            client = pair.ClientEnd;
            port = pair.Port;
            pair.Client.Client.Close(0);
        }

        Assert.Null(Table.FindOwner(client, IPAddress.Loopback, port));
    }

    [Fact]
    public void A_folder_without_tables_is_an_error_not_an_unknown_user()
    {
        var table = new TcpSocketTable(Path.Combine(Path.GetTempPath(), $"no-proc-{Guid.NewGuid():N}"));

        var ex = Assert.Throws<IOException>(() => table.FindOwner(new IPEndPoint(IPAddress.Loopback, 40000), null, 25));
        Assert.Contains("cannot read", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    // As the kernel prints them: tcp (IPv4) and tcp6, state 01 ESTABLISHED, uid 1000.
    [InlineData("   3: 0100007F:9C40 0100007F:09C4 01 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 20 4 30 10 -1",
        "127.0.0.1:40000", "127.0.0.1:2500", 1, 1000u)]
    [InlineData("   0: 00000000000000000000000001000000:9C40 00000000000000000000000001000000:09C4 01 00000000:00000000 00:00000000 00000000   104        0 65432 1 0000000000000000 20 4 30 10 -1",
        "[::1]:40000", "[::1]:2500", 1, 104u)]
    [InlineData("   1: 0000000000000000FFFF00000500007F:9C40 0000000000000000FFFF00000100007F:09C4 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 20 4 30 10 -1",
        "127.0.0.5:40000", "127.0.0.1:2500", 10, 0u)]
    [InlineData("   2: 0100A8C0:0019 0201A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 1 1",
        "192.168.0.1:25", "192.168.1.2:54321", 1, 0u)]
    public void A_table_line_is_read_as_the_kernel_wrote_it(string line, string local, string remote, int state, uint uid)
    {
        Assert.True(BitConverter.IsLittleEndian, "the sample lines are those of a little-endian kernel");

        Assert.True(TcpSocketTable.TryParse(line, out var entry));
        Assert.Equal((IPEndPoint.Parse(local), IPEndPoint.Parse(remote), state, uid), (entry.Local, entry.Remote, entry.State, entry.Uid));
    }

    [Theory]
    [InlineData("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode")]
    [InlineData("")]
    [InlineData("   3: 0100007F:9C40 0100007F:09C4 01 00000000:00000000 00:00000000 00000000")]
    [InlineData("   3: 0100007F9C40 0100007F:09C4 01 00000000:00000000 00:00000000 00000000  1000 0 1")]
    [InlineData("   3: 0100007:9C40 0100007F:09C4 01 00000000:00000000 00:00000000 00000000  1000 0 1")]
    [InlineData("   3: 0100007F:9C4 0100007F:09C4 01 00000000:00000000 00:00000000 00000000  1000 0 1")]
    [InlineData("   3: 0100007G:9C40 0100007F:09C4 01 00000000:00000000 00:00000000 00000000  1000 0 1")]
    [InlineData("   3: 0100007F:9C40 0100007F:09C4 01 00000000:00000000 00:00000000 00000000  -1 0 1")]
    [InlineData("   3: 0100007F:9C40 0100007F:09C4 ZZ 00000000:00000000 00:00000000 00000000  1000 0 1")]
    public void A_line_that_is_not_a_socket_is_skipped(string line) =>
        Assert.False(TcpSocketTable.TryParse(line, out _));
}
