using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Milter.Filters.Configuration;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Replies;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests;

/// <summary>
/// The server, the chain and the greylist on a real SQLite file, over a real Unix socket: what an MTA
/// that gives up on the filter (QUIT, close) does to the connection cap while the store is busy.
/// </summary>
public sealed class ConnectionChurnTests : IAsyncLifetime
{
    private const int Cap = 1000;
    private const int Connections = 2000;

    private readonly SqliteTestFile _file = new("churn");
    private readonly CancellationTokenSource _stop = new();
    private MilterStores _stores = null!;
    private MilterServer _server = null!;
    private Task _running = Task.CompletedTask;
    private UnixDomainSocketEndPoint _endPoint = null!;

    public async Task InitializeAsync()
    {
        var clock = Clock();
        // Long enough that no writer gives up while the test holds the lock.
        _stores = await StoreFactory.OpenAsync(_file.Setting, clock, null, new StoreOptions { BusyTimeout = TimeSpan.FromMinutes(2) });
        var greylist = Options with { PerMessage = false };
        var chain = new FilterChain(
            [new GreylistFilter(_stores.Greylist.Check, greylist, new RelayOptions().AllowClients, clock, NullLogger<GreylistFilter>.Instance)],
            OnError.Tempfail, NullLogger<FilterChain>.Instance);
        var sink = new RecordingSink();
        _endPoint = new UnixDomainSocketEndPoint(Path.Combine(_file.Folder, "milter.sock"));
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(_endPoint);
        listener.Listen(512);
        var options = new SessionOptions { Limits = new() { MaxConnections = Cap } };
        _server = new MilterServer(listener, () => new ChainHandler(chain, sink), () => options, TimeProvider.System, NullLogger<MilterServer>.Instance);
        _running = _server.RunAsync(_stop.Token);

        // The triplet every connection below sends: seen once, and retried after the delay, so that
        // each check is a new pass, which is written durably before it is answered.
        await using (var first = await OpenAsync())
            Assert.Equal(VerdictKind.Tempfail, (await first.RcptAsync("<bob@example.com>")).Kind);
        await _stores.Greylist.WhenAttemptsWrittenAsync(default);
        clock.Advance(greylist.Delay + TimeSpan.FromSeconds(1));
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _running.WaitAsync(TimeSpan.FromSeconds(30));
        await _stores.DisposeAsync();
        _file.Dispose();
    }

    [Fact]
    public async Task Connections_that_quit_and_close_while_their_check_waits_for_a_held_store_lock_free_their_place_at_once()
    {
        var failures = 0;
        string? firstFailure = null;
        await using (await _file.LockAsync())
        {
            // Each connection asks at RCPT and, without waiting for the answer, QUITs and closes, as
            // sendmail does when its milter timeout expires. Every check waits for the held lock.
            var next = -1;
            var clients = Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
            {
                while (Interlocked.Increment(ref next) < Connections)
                {
                    try
                    {
                        await using var mta = await OpenAsync();
                        await mta.SendRawAsync(Frame('R', "<bob@example.com>"));
                        await mta.QuitAsync();
                    }
                    catch (Exception e) when (e is IOException or SocketException or EndOfStreamException)
                    {
                        Interlocked.Increment(ref failures);
                        Interlocked.CompareExchange(ref firstFailure, e.Message, null);
                    }
                }
            })).ToArray();
            await Task.WhenAll(clients).WaitAsync(TimeSpan.FromMinutes(2));

            // Still under the lock: the places were freed by the closes, not by the store.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (_server.ActiveConnections > 0 && DateTime.UtcNow < deadline)
                await Task.Delay(10);
            Assert.Equal(0, _server.ActiveConnections);
        }

        Assert.Equal(0, _server.RefusedConnections);
        Assert.True(failures == 0, $"{failures} connections failed; first: {firstFailure}");
        // The store took writes again once the lock went: the retried triplet passes.
        await using var after = await OpenAsync();
        Assert.Equal(VerdictKind.Continue, (await after.RcptAsync("<bob@example.com>")).Kind);
    }

    /// <summary>A connection that negotiated, connected from 203.0.113.5, said HELO and MAIL.</summary>
    private async Task<MilterClient> OpenAsync()
    {
        var mta = await ConnectAsync();
        try
        {
            await mta.NegotiateAsync();
            await mta.SendMacrosAsync('C', ("{client_addr}", Client.ToString()), ("{client_name}", "mail.example.org"));
            await mta.ConnectAsync("mail.example.org", ConnectFamily.Inet, 40000, Client.ToString());
            await mta.HeloAsync("mail.example.org");
            await mta.SendMacrosAsync('M', ("i", "4Q1abc"));
            await mta.MailAsync("<alice@example.org>");
            return mta;
        }
        catch
        {
            await mta.DisposeAsync();
            throw;
        }
    }

    // A Unix socket's connect fails at once (EAGAIN) while the listener's queue is full; a sendmail tries again.
    private async Task<MilterClient> ConnectAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                return await MilterClient.ConnectAsync(_endPoint);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock && DateTime.UtcNow < deadline)
            {
                await Task.Delay(5);
            }
        }
    }

    /// <summary>One command frame with NUL-terminated string arguments, as the MTA writes it.</summary>
    private static byte[] Frame(char command, params string[] arguments)
    {
        var body = Encoding.ASCII.GetBytes(command + string.Concat(arguments.Select(a => a + "\0")));
        var frame = new byte[4 + body.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame, body.Length);
        body.CopyTo(frame, 4);
        return frame;
    }
}
