using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>The real client against the real server over a Unix domain socket in a temp directory.</summary>
public sealed class MilterServerTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("milter-proto-").FullName;
    private readonly CancellationTokenSource _stop = new();
    private readonly CapturingLogger<MilterServer> _log = new();
    private readonly List<ScriptedHandler> _handlers = [];
    private UnixDomainSocketEndPoint _endPoint = null!;
    private MilterServer _server = null!;
    private Task _run = Task.CompletedTask;
    private SessionOptions _options = new();

    public Task InitializeAsync() => Task.CompletedTask;

    /// <param name="beforeServing">Runs once the socket listens, before the server accepts anything.</param>
    /// <param name="accept">In front of the listener's AcceptAsync, when given.</param>
    private void Start(SessionOptions options, Func<StageCall, ValueTask<Verdict>>? script = null, TimeProvider? time = null, Action? beforeServing = null,
        Func<Socket, CancellationToken, ValueTask<Socket>>? accept = null)
    {
        _options = options;
        _endPoint = new UnixDomainSocketEndPoint(Path.Combine(_dir, "milter.sock"));
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(_endPoint);
        listener.Listen(16);
        beforeServing?.Invoke();
        _server = new MilterServer(listener, () =>
        {
            var h = new ScriptedHandler { Script = script };
            lock (_handlers) _handlers.Add(h);
            return h;
        }, () => _options, time ?? TimeProvider.System, _log)
        {
            AcceptConnection = accept ?? (static (l, ct) => l.AcceptAsync(ct)),
        };
        _run = _server.RunAsync(_stop.Token);
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(TimeSpan.FromSeconds(15));
        Directory.Delete(_dir, recursive: true);
    }

    private static ValueTask<Verdict> Policy(StageCall c)
    {
        switch (c.Stage)
        {
            case "RCPT" when ((RcptCommand)c.Command!).Address == "nobody@example.com":
                return new(Verdict.Reject(new SmtpReply(550, "5.1.1", "User unknown")));
            case "EOM":
                c.Modifier!.AddHeader("X-Standin", "checked");
                c.Modifier.ChangeHeader(1, "Subject", "[checked] " + c.Context.QueueId);
                c.Modifier.AddRecipient("<archive@example.com>");
                c.Modifier.DeleteRecipient("<bob@example.com>");
                return new(Verdict.Accept);
            default:
                return default;
        }
    }

    private static async Task<MilterResponse> WholeMessage(MilterClient mta, string queueId)
    {
        await mta.SendMacrosAsync('M', ("i", queueId), ("{auth_authen}", ""));
        Assert.Equal(VerdictKind.Continue, (await mta.MailAsync("<sender@remote.example>", ["BODY=8BITMIME"])).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.RcptAsync("<bob@example.com>")).Kind);
        Assert.Equal("550 5.1.1 User unknown", (await mta.RcptAsync("<nobody@example.com>")).ToString());
        Assert.Equal(VerdictKind.Continue, (await mta.DataAsync()).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.HeaderAsync("From", "sender@remote.example")).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.HeaderAsync("Subject", "hello")).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.EndOfHeadersAsync()).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.BodyChunksAsync(new byte[70_000])).Kind);
        return await mta.EndOfMessageAsync();
    }

    private async Task<MilterClient> Open()
    {
        var mta = await ConnectAsync();
        await mta.NegotiateAsync();
        await mta.SendMacrosAsync('C', ("j", "mx.example.com"), ("{client_addr}", "127.0.0.1"));
        Assert.Equal(VerdictKind.Continue, (await mta.ConnectAsync("localhost", ConnectFamily.Inet, 40000, "127.0.0.1")).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.HeloAsync("client.example")).Kind);
        return mta;
    }

    // A Unix socket's connect fails at once (EAGAIN) while the listener's queue is full (connections
    // the test already closed but the server has not accepted yet count too), where a TCP connect
    // would wait; a sendmail would try again, and so do these.
    private Task<MilterClient> ConnectAsync() => WhileQueueFullAsync(() => MilterClient.ConnectAsync(_endPoint));

    private Task<Socket> ConnectRawAsync() => WhileQueueFullAsync(async () =>
    {
        var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await raw.ConnectAsync(_endPoint);
            return raw;
        }
        catch
        {
            raw.Dispose();
            throw;
        }
    });

    private static async Task<T> WhileQueueFullAsync<T>(Func<Task<T>> connect)
    {
        var deadline = DateTime.UtcNow + PipeSession.HangLimit;
        while (true)
        {
            try
            {
                return await connect();
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock && DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);
            }
        }
    }

    private async Task WaitForNoConnections()
    {
        var deadline = DateTime.UtcNow + PipeSession.HangLimit;
        while (_server.ActiveConnections > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal(0, _server.ActiveConnections);
    }

    [Fact]
    public async Task A_whole_message_over_a_Unix_socket_gets_its_verdicts_and_modifications()
    {
        Start(new SessionOptions(), Policy);
        await using var mta = await Open();
        Assert.Equal(ProtocolFlags.Skip, mta.Negotiated!.Protocol);

        var eom = await WholeMessage(mta, "Q1");
        await mta.QuitAsync();

        Assert.Equal(ReplyCode.Accept, eom.Code);
        Assert.Equal(
            [
                new AddHeaderModification("X-Standin", "checked"),
                new ChangeHeaderModification(1, "Subject", "[checked] Q1"),
                new AddRecipientModification("<archive@example.com>"),
                new DeleteRecipientModification("<bob@example.com>"),
            ],
            eom.Modifications);
        await WaitForNoConnections();
        var handler = Assert.Single(_handlers);
        Assert.Equal(2, handler.At("BODY").Count());
        Assert.Equal("127.0.0.1", handler.At("EOM").Single().Macros["client_addr"]);
        Assert.Equal("CLOSE", handler.Stages.Last());
        Assert.Empty(_log.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task Handlers_that_answer_late_at_every_stage_leave_the_connection_reading_the_next_frames()
    {
        // Every stage answers after a wait, so the socket is watched while each handler works; the
        // watch must never keep the MTA's next frame from the session's own read (a watch on a
        // socket operation of its own, left pending after the handler answered, hung here).
        Start(new SessionOptions(), async c =>
        {
            await Task.Delay(2);
            return await Policy(c);
        });
        await using var mta = await Open();

        var first = await WholeMessage(mta, "Q1").WaitAsync(PipeSession.HangLimit);
        var second = await WholeMessage(mta, "Q2").WaitAsync(PipeSession.HangLimit);
        await mta.QuitAsync();

        Assert.Equal(ReplyCode.Accept, first.Code);
        Assert.Equal(ReplyCode.Accept, second.Code);
        await WaitForNoConnections();
        Assert.Equal("CLOSE", Assert.Single(_handlers).Stages.Last());
        Assert.Empty(_log.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task A_handler_that_answers_late_is_watched_without_an_exception_per_stage()
    {
        // The watch of a late stage is left to the MTA's next frame, not cancelled when the handler
        // answers: a cancelled socket operation completes through the thread pool with an
        // OperationCanceledException, one per late stage (over a thousand a second under churn).
        var thrown = 0;
        void Count(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
        {
            if (e.Exception is OperationCanceledException && Environment.StackTrace.Contains("Milter.Protocol.Session.PeerWatch", StringComparison.Ordinal))
                Interlocked.Increment(ref thrown);
        }
        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            Start(new SessionOptions(), async c =>
            {
                await Task.Delay(1);
                return await Policy(c);
            });
            for (var i = 0; i < 4; i++)
            {
                await using var mta = await Open();
                Assert.Equal(ReplyCode.Accept, (await WholeMessage(mta, "Q" + i).WaitAsync(PipeSession.HangLimit)).Code);
                await mta.QuitAsync();
            }
            await WaitForNoConnections();
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }

        Assert.Equal(4, _handlers.Count);
        Assert.All(_handlers, h => Assert.Equal("CLOSE", h.Stages.Last()));
        Assert.Equal(0, thrown);
        Assert.Empty(_log.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task A_peer_that_never_waits_for_a_reply_does_not_hold_up_the_other_connections()
    {
        // Its commands are there before the server reads the first and come faster than the server
        // takes them, and they want no reply (macros) until the last (HELO), so no read or write of its
        // session waits: a session that ran until it waited would keep the thread it started on (here
        // the accept loop's) for the whole stream, and nobody else would be accepted or answered until
        // it ended.
        // The stream goes on until the other connections were served (or, were they held up behind
        // it, for as long as a test may hang), so no machine is too slow for them to come first.
        using var pipeliner = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        long replies = 0;
        var othersServed = new ManualResetEventSlim();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = new List<Thread>();
        // A blocking thread's exception would end the test host; kept for the assertion below.
        Thread Guarded(Action body) => new(() =>
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        });
        Start(new SessionOptions(), beforeServing: () =>
        {
            pipeliner.Connect(_endPoint);
            var macros = Bytes.Concat(Enumerable.Range(0, 1_000).Select(i => Bytes.Macro('H', ("{tls_version}", "TLSv1.3"), ("{cipher}", "TLS_AES_256_GCM_SHA384"))).ToArray());
            pipeliner.Send(Bytes.Concat(Bytes.SendmailOffer, Bytes.Connect4(), macros, macros));
            threads.Add(Guarded(() =>
            {
                var until = DateTime.UtcNow + PipeSession.HangLimit;
                while (!othersServed.IsSet && DateTime.UtcNow < until)
                    pipeliner.Send(macros);
                pipeliner.Send(Bytes.Helo());
            }));
            // OPTNEG, CONNECT and HELO are answered.
            threads.Add(Guarded(() => CountFrames(pipeliner, ref replies, 3)));
            foreach (var t in threads)
                t.Start();
        });

        try
        {
            for (var i = 0; i < 4; i++)
            {
                await using var other = await Open();
                Assert.True(Volatile.Read(ref replies) < 3, $"connection {i} was answered only after the pipelining peer's whole stream");
            }
        }
        finally
        {
            othersServed.Set();
        }
        foreach (var t in threads)
            Assert.True(t.Join(PipeSession.HangLimit));
        Assert.Empty(failures);
        Assert.Equal(3, Volatile.Read(ref replies));
        var pipelined = Assert.Single(_handlers, h => h.At("CONNECT").Any(c => ((ConnectCommand)c.Command!).Address == "192.0.2.7"));
        Assert.Equal(["CONNECT", "HELO"], pipelined.Stages.Take(2));
    }

    /// <summary>Reads off a blocking socket until <paramref name="until"/> whole frames have come, counting them.</summary>
    private static void CountFrames(Socket socket, ref long count, long until)
    {
        var received = new List<byte>();
        var buffer = new byte[64 * 1024];
        while (Volatile.Read(ref count) < until)
        {
            var n = socket.Receive(buffer);
            if (n == 0)
                return;
            received.AddRange(buffer.AsSpan(0, n));
            Volatile.Write(ref count, Bytes.CountFrames(CollectionsMarshal.AsSpan(received)));
        }
    }

    [Fact]
    public async Task Over_the_connection_cap_a_new_connection_is_closed_at_once_while_the_others_work()
    {
        Start(new SessionOptions { Limits = new() { MaxConnections = 2 } }, Policy);
        await using var first = await Open();
        await using var second = await Open();

        await using var third = await ConnectAsync();
        Assert.True(await IsClosedByPeer(third));

        Assert.Equal(ReplyCode.Accept, (await WholeMessage(first, "Q1")).Code);
        Assert.Equal(ReplyCode.Accept, (await WholeMessage(second, "Q2")).Code);
        Assert.Equal(1, _server.RefusedConnections);
        Assert.Equal(2, _server.ActiveConnections);
        var capLine = Assert.Single(_log.AtLeast(LogLevel.Warning));
        Assert.Equal(1010, capLine.EventId.Id);

        // Once one leaves, a new connection is served again.
        await first.QuitAsync();
        var deadline = DateTime.UtcNow + PipeSession.HangLimit;
        while (_server.ActiveConnections > 1 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        await using var fourth = await Open();
        Assert.Equal(ReplyCode.Accept, (await WholeMessage(fourth, "Q4")).Code);
    }

    [Fact]
    public async Task A_burst_of_refusals_is_summed_up_by_the_next_connection_served_and_at_stop()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
        Start(new SessionOptions { Limits = new() { MaxConnections = 1 } }, Policy, time);
        var held = await Open();
        for (var i = 0; i < 3; i++)
        {
            await using var refused = await ConnectAsync();
            Assert.True(await IsClosedByPeer(refused));
        }
        // The first refusal at once; the two after it wait for a summary.
        Assert.Equal([1L], CapLines());

        // The burst is over: the next connection served, ten seconds on, reports the rest.
        time.Advance(TimeSpan.FromSeconds(11));
        await held.QuitAsync();
        await held.DisposeAsync();
        await WaitForNoConnections();
        await using (var served = await Open())
            Assert.Equal(VerdictKind.Continue, (await served.MailAsync("<a@remote.example>")).Kind);
        Assert.Equal([1L, 2L], CapLines());
        // The server frees the place when it reads the end of the stream: at a cap of one, a connection
        // opened before that is refused (seen once in .ci/run).
        await WaitForNoConnections();

        // A refusal within ten seconds of that line is reported when the listener stops.
        await using var again = await Open();
        await using (var refused = await ConnectAsync())
            Assert.True(await IsClosedByPeer(refused));
        Assert.Equal([1L, 2L], CapLines());
        await again.QuitAsync(); // (the shutdown grace would run on the fake clock)
        await _stop.CancelAsync();
        await _run.WaitAsync(PipeSession.HangLimit);
        Assert.Equal([1L, 2L, 1L], CapLines());
    }

    private List<long> CapLines() =>
        _log.AtLeast(LogLevel.Warning).Where(e => e.EventId.Id == 1010).Select(e => Convert.ToInt64(e.State["Refused"], System.Globalization.CultureInfo.InvariantCulture)).ToList();

    [Theory]
    [InlineData(SocketError.NoBufferSpaceAvailable)] // ENOBUFS
    [InlineData(SocketError.NetworkUnreachable)] // ENETUNREACH, which accept(2) passes on for TCP
    [InlineData(SocketError.TooManyOpenSockets)] // EMFILE
    public async Task A_failed_accept_is_logged_and_the_server_goes_on_accepting(SocketError error)
    {
        var failures = 3;
        Start(new SessionOptions(), Policy, accept: (listener, ct) =>
            Interlocked.Decrement(ref failures) >= 0 ? ValueTask.FromException<Socket>(new SocketException((int)error)) : listener.AcceptAsync(ct));

        // The connection waits in the listener's queue through the failures, then is served.
        await using var mta = await Open();
        Assert.Equal(VerdictKind.Continue, (await mta.MailAsync("<sender@remote.example>", [])).Kind);
        Assert.Equal("550 5.1.1 User unknown", (await mta.RcptAsync("<nobody@example.com>")).ToString());

        Assert.False(_run.IsCompleted);
        var lines = _log.Entries.Where(e => e.EventId.Id == 1011).ToList();
        Assert.Equal(3, lines.Count);
        Assert.All(lines, e => Assert.Equal(LogLevel.Error, e.Level));
    }

    [Fact]
    public async Task An_MTA_that_hangs_up_before_reading_the_answer_is_one_peer_gone_line_not_a_failure()
    {
        // sendmail gave up on the filter (its T= timeouts, a killed child) after it sent a command:
        // the answer cannot be written (EPIPE), and must not be written again when the session ends.
        Start(new SessionOptions(), Policy, beforeServing: () =>
        {
            using var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            raw.Connect(_endPoint);
            raw.Send(Bytes.SendmailOffer);
            raw.Close();
        });

        var deadline = DateTime.UtcNow + PipeSession.HangLimit;
        while (_server.TrackedSessions + (_log.Entries.Any(e => e.EventId.Id == 1003) ? 0 : 1) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);

        Assert.Equal(0, _server.TrackedSessions);
        Assert.Single(_log.Entries, e => e.EventId.Id == 1003);
        Assert.Empty(_log.AtLeast(LogLevel.Error));
    }

    [Fact]
    public async Task After_QUIT_the_server_closes_its_end_and_the_MTA_reads_the_end_of_the_stream()
    {
        Start(new SessionOptions());
        using var raw = await ConnectRawAsync();

        // The MTA keeps its side open: only the server's close can end what the MTA reads.
        await raw.SendAsync(new byte[] { 0, 0, 0, 1, (byte)'Q' });
        using var timeout = new CancellationTokenSource(PipeSession.HangLimit);
        var read = await raw.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token);

        Assert.Equal(0, read);
        await WaitForNoConnections();
    }

    [Fact]
    public async Task Connections_that_end_at_once_free_their_place_under_the_cap()
    {
        Start(new SessionOptions { Limits = new() { MaxConnections = 3 } });
        for (var i = 0; i < 60; i++)
        {
            var mta = await ConnectAsync();
            if (i % 2 == 0)
                await mta.NegotiateAsync();
            await mta.DisposeAsync();
            if (i % 3 == 2)
                await WaitForNoConnections();
        }
        // A QUIT already waiting when the connection is accepted: the session ends before the accept loop goes on.
        for (var i = 0; i < 20; i++)
        {
            using var raw = await ConnectRawAsync();
            await raw.SendAsync(new byte[] { 0, 0, 0, 1, (byte)'Q' });
            raw.Shutdown(SocketShutdown.Both);
            if (i % 3 == 2)
                await WaitForNoConnections();
        }
        await WaitForNoConnections();
        await using var last = await Open();
        Assert.Equal(VerdictKind.Continue, (await last.MailAsync("<a@remote.example>")).Kind);
        Assert.Equal(0, _server.RefusedConnections);
        // Every ended session left the server's list (a session's last step comes just after it frees its place).
        var deadline = DateTime.UtcNow + PipeSession.HangLimit;
        while (_server.TrackedSessions > 1 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal(1, _server.TrackedSessions);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_MTA_that_leaves_while_the_handler_works_frees_its_place_at_once_and_the_handler_is_cancelled(bool quitFirst)
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Start(new SessionOptions { Limits = new() { MaxConnections = 1 } }, async c =>
        {
            if (c.Stage != "RCPT")
                return Verdict.Continue;
            // A store call that waits (a lock held elsewhere) and hears of cancellation.
            await using (c.Token.Register(() => cancelled.TrySetResult()))
                await release.Task;
            return Verdict.Continue;
        });
        var mta = await Open();
        Assert.Equal(VerdictKind.Continue, (await mta.MailAsync("<a@remote.example>")).Kind);
        // sendmail's milter timeout: QUIT and close, no waiting for the answer.
        byte[] rcpt = [0, 0, 0, 19, (byte)'R', .. "<bob@example.com>\0"u8];
        await mta.SendRawAsync(rcpt);
        if (quitFirst)
            await mta.QuitAsync();
        await mta.DisposeAsync();

        await cancelled.Task.WaitAsync(PipeSession.HangLimit);
        var deadline = DateTime.UtcNow + PipeSession.HangLimit;
        while (_server.ActiveConnections > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(1);
        // Freed while the handler still waits: the next connection is served, not refused at the cap of 1.
        Assert.False(release.Task.IsCompleted);
        Assert.Equal(0, _server.ActiveConnections);
        await using var next = await Open();
        Assert.Equal(0, _server.RefusedConnections);
        release.SetResult();
    }

    [Fact]
    public async Task Shutdown_lets_sessions_finish_within_the_grace_then_cuts_off_the_rest()
    {
        Start(new SessionOptions { Limits = new() { ShutdownGrace = TimeSpan.FromMilliseconds(300) } }, Policy);
        await using var idle = await Open();

        await _stop.CancelAsync();
        await _run.WaitAsync(PipeSession.HangLimit);

        Assert.True(await IsClosedByPeer(idle));
        Assert.Equal(1012, Assert.Single(_log.AtLeast(LogLevel.Warning)).EventId.Id);
        Assert.Equal("CLOSE", Assert.Single(_handlers).Stages.Last());
    }

    /// <summary>True when the filter closed the connection: end of stream, or a reset.</summary>
    private static async Task<bool> IsClosedByPeer(MilterClient mta)
    {
        try
        {
            return await mta.TryReadFrameAsync().WaitAsync(PipeSession.HangLimit) is null;
        }
        catch (IOException)
        {
            return true;
        }
    }
}
