using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MilterHost.Tests.RelayTest;

/// <summary>
/// A tiny SMTP server on 127.0.0.1 for the relay-test tests: sends a greeting, then answers each
/// command line with what <see cref="Answer"/> returns (null: never answer). Records every command
/// and the address every client came from.
/// </summary>
internal sealed class FakeSmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentQueue<string> _commands = new();
    private readonly ConcurrentQueue<IPAddress> _clients = new();

    public FakeSmtpServer(Func<string, string?>? answer = null)
    {
        Answer = answer ?? Refusing;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public Func<string, string?> Answer { get; }

    public string Greeting { get; init; } = "220 mx.example.com ESMTP fake";

    /// <summary>Hang up right after answering each RCPT, as servers that count errors do.</summary>
    public bool CloseAfterRcpt { get; init; }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public string Target => $"127.0.0.1:{EndPoint.Port}";

    public IReadOnlyList<string> Commands => [.. _commands];

    public IReadOnlyList<IPAddress> Clients => [.. _clients];

    /// <summary>A closed mail server: every foreign recipient gets 550.</summary>
    public static string? Refusing(string command) => Verb(command) switch
    {
        "EHLO" => "250-mx.example.com Hello\r\n250-PIPELINING\r\n250 HELP",
        "HELO" => "250 mx.example.com Hello",
        "MAIL" => "250 2.1.0 Sender ok",
        "RCPT" => "550 5.7.1 Relaying denied",
        "RSET" => "250 2.0.0 Reset state",
        _ => "500 5.5.1 Command unrecognized",
    };

    public static string Verb(string command) => command.Split(' ', ':')[0].ToUpperInvariant();

    private async Task AcceptAsync()
    {
        var sessions = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _clients.Enqueue(((IPEndPoint)client.Client.RemoteEndPoint!).Address);
                sessions.Add(ServeAsync(client));
            }
        }
        catch (OperationCanceledException)
        {
        }
        await Task.WhenAll(sessions);
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.Latin1);
        try
        {
            await WriteAsync(stream, Greeting);
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                _commands.Enqueue(line);
                if (Verb(line) == "QUIT")
                {
                    await WriteAsync(stream, "221 2.0.0 closing connection");
                    return;
                }
                if (Answer(line) is not { } reply)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                    return;
                }
                await WriteAsync(stream, reply);
                if (CloseAfterRcpt && Verb(line) == "RCPT")
                    return;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
        {
        }
    }

    private async Task WriteAsync(NetworkStream stream, string reply) =>
        await stream.WriteAsync(Encoding.Latin1.GetBytes(reply + "\r\n"), _stop.Token);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
