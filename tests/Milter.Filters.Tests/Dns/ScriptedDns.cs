using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Milter.TestSupport;

namespace Milter.Filters.Tests.Dns;

/// <summary>
/// A DNS server for what dnsmasq will not play: every answer is written byte by byte by the test
/// (<see cref="DnsReply"/>), so it can set the TC bit, answer with another ID or question, or send
/// thousands of records. Listens on UDP and TCP on one loopback address and port; a script that
/// returns null sends nothing (the query goes unanswered).
/// </summary>
internal sealed class ScriptedDns : IAsyncDisposable
{
    private readonly Func<DnsQuery, bool, DnsReply?> _script;
    private readonly Socket _udp;
    private readonly Socket _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _udpLoop;
    private readonly Task _tcpLoop;
    private int _udpQueries;
    private int _tcpQueries;

    private ScriptedDns(Func<DnsQuery, bool, DnsReply?> script, Socket udp, Socket tcp)
    {
        _script = script;
        _udp = udp;
        _tcp = tcp;
        Endpoint = (IPEndPoint)udp.LocalEndPoint!;
        _udpLoop = Task.Run(ServeUdpAsync);
        _tcpLoop = Task.Run(ServeTcpAsync);
    }

    public IPEndPoint Endpoint { get; }

    public int UdpQueries => Volatile.Read(ref _udpQueries);

    public int TcpQueries => Volatile.Read(ref _tcpQueries);

    /// <summary>Starts a server whose <paramref name="script"/> answers each query (the flag: asked over TCP).</summary>
    public static ScriptedDns Start(Func<DnsQuery, bool, DnsReply?> script, string address = "127.0.0.61")
    {
        for (var attempt = 1; ; attempt++)
        {
            var endpoint = new IPEndPoint(IPAddress.Parse(address), FreePort.Next());
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                udp.Bind(endpoint);
                tcp.Bind(endpoint);
                tcp.Listen(16);
                return new ScriptedDns(script, udp, tcp);
            }
            catch (SocketException) when (attempt < 3)
            {
                udp.Dispose();
                tcp.Dispose();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _udp.Dispose();
        _tcp.Dispose();
        await Task.WhenAll(_udpLoop, _tcpLoop).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task ServeUdpAsync()
    {
        var buffer = new byte[4096];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _udp.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            Interlocked.Increment(ref _udpQueries);
            if (DnsQuery.TryParse(buffer.AsSpan(0, received.ReceivedBytes), out var query)
                && _script(query, false) is { } reply)
            {
                await _udp.SendToAsync(reply.Encode(query), received.RemoteEndPoint);
            }
        }
    }

    private async Task ServeTcpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _tcp.AcceptAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using var _ = client;
                await using var stream = new NetworkStream(client);
                var length = new byte[2];
                try
                {
                    while (true)
                    {
                        await stream.ReadExactlyAsync(length, _stop.Token);
                        var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(length)];
                        await stream.ReadExactlyAsync(message, _stop.Token);
                        Interlocked.Increment(ref _tcpQueries);
                        if (!DnsQuery.TryParse(message, out var query) || _script(query, true) is not { } reply)
                            return;
                        var bytes = reply.Encode(query);
                        var framed = new byte[bytes.Length + 2];
                        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)bytes.Length);
                        bytes.CopyTo(framed, 2);
                        await stream.WriteAsync(framed, _stop.Token);
                    }
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or EndOfStreamException or ObjectDisposedException)
                {
                }
            });
        }
    }
}

/// <summary>A query as the server read it: its ID, its question name (lowercased, no trailing dot) and type.</summary>
internal sealed record DnsQuery(ushort Id, string Name, ushort Type, byte[] Question)
{
    public const ushort A = 1, Ptr = 12, Txt = 16, Aaaa = 28, Cname = 5, Soa = 6;

    public static bool TryParse(ReadOnlySpan<byte> message, out DnsQuery query)
    {
        query = null!;
        if (message.Length < 12 || BinaryPrimitives.ReadUInt16BigEndian(message[4..]) != 1)
            return false;
        var labels = new List<string>();
        var offset = 12;
        while (offset < message.Length && message[offset] != 0)
        {
            var length = message[offset];
            if (length > 63 || offset + 1 + length > message.Length)
                return false;
            labels.Add(Encoding.ASCII.GetString(message.Slice(offset + 1, length)));
            offset += 1 + length;
        }
        if (offset + 5 > message.Length)
            return false;
        var type = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 1)..]);
        query = new DnsQuery(BinaryPrimitives.ReadUInt16BigEndian(message), string.Join('.', labels).ToLowerInvariant(), type,
            message[12..(offset + 5)].ToArray());
        return true;
    }
}

/// <summary>An answer the test writes: header fields, the question (the query's unless replaced), answer and authority records.</summary>
internal sealed class DnsReply
{
    private readonly List<byte[]> _answers = [];
    private readonly List<byte[]> _authority = [];

    /// <summary>The RCODE: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED.</summary>
    public int ReturnCode { get; init; }

    public bool Truncated { get; init; }

    /// <summary>Added to the query's ID (0: the ID is echoed).</summary>
    public int IdOffset { get; init; }

    /// <summary>A question name to answer with instead of the query's.</summary>
    public string? QuestionName { get; init; }

    public DnsReply A(string owner, string address, int ttl = 60) =>
        Add(_answers, owner, DnsQuery.A, ttl, IPAddress.Parse(address).GetAddressBytes());

    public DnsReply Aaaa(string owner, string address, int ttl = 60) =>
        Add(_answers, owner, DnsQuery.Aaaa, ttl, IPAddress.Parse(address).GetAddressBytes());

    public DnsReply Ptr(string owner, string target, int ttl = 60) => Add(_answers, owner, DnsQuery.Ptr, ttl, Name(target));

    public DnsReply Cname(string owner, string target, int ttl = 60) => Add(_answers, owner, DnsQuery.Cname, ttl, Name(target));

    /// <summary>A TXT record of one or more character strings (each at most 255 bytes).</summary>
    public DnsReply Txt(string owner, string text, int ttl = 60)
    {
        var data = new List<byte>();
        foreach (var chunk in text.Chunk(255))
        {
            data.Add((byte)chunk.Length);
            data.AddRange(chunk.Select(c => (byte)c));
        }
        return Add(_answers, owner, DnsQuery.Txt, ttl, [.. data]);
    }

    /// <summary>An SOA in the authority section, whose minimum is the negative-caching TTL.</summary>
    public DnsReply Soa(string zone, int ttl, int minimum)
    {
        var data = new List<byte>();
        data.AddRange(Name("ns." + zone));
        data.AddRange(Name("hostmaster." + zone));
        foreach (var value in new[] { 1, 3600, 600, 86400, minimum })
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(bytes, value);
            data.AddRange(bytes);
        }
        return Add(_authority, zone, DnsQuery.Soa, ttl, [.. data]);
    }

    public byte[] Encode(DnsQuery query)
    {
        var message = new List<byte>();
        var header = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, (ushort)(query.Id + IdOffset));
        // QR, opcode 0, RD, RA; TC when asked.
        header[2] = (byte)(0x81 | (Truncated ? 0x02 : 0));
        header[3] = (byte)(0x80 | ReturnCode);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), (ushort)_answers.Count);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(8), (ushort)_authority.Count);
        message.AddRange(header);
        if (QuestionName is null)
        {
            message.AddRange(query.Question);
        }
        else
        {
            message.AddRange(Name(QuestionName));
            message.AddRange(query.Question[^4..]);
        }
        foreach (var record in _answers.Concat(_authority))
            message.AddRange(record);
        return [.. message];
    }

    private DnsReply Add(List<byte[]> section, string owner, ushort type, int ttl, byte[] data)
    {
        var record = new List<byte>(Name(owner));
        var fixedPart = new byte[10];
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart, type);
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart.AsSpan(2), 1);
        BinaryPrimitives.WriteInt32BigEndian(fixedPart.AsSpan(4), ttl);
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart.AsSpan(8), (ushort)data.Length);
        record.AddRange(fixedPart);
        record.AddRange(data);
        section.Add([.. record]);
        return this;
    }

    private static byte[] Name(string name)
    {
        var bytes = new List<byte>();
        foreach (var label in name.TrimEnd('.').Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }
        bytes.Add(0);
        return [.. bytes];
    }
}
