using System.Net;
using System.Net.Sockets;
using System.Text;
using Milter.TestSupport.Internal;

namespace Milter.TestSupport;

/// <summary>
/// A minimal SMTP client over a raw socket, for what swaks cannot do: several messages on one
/// connection, RSET between them, probes that stop anywhere. Every call is time-bounded and
/// returns the server's reply, whatever it is.
/// </summary>
/// <example>
/// <code>
/// await using var smtp = await SmtpScript.ConnectAsync(sendmail.Endpoint, IPAddress.Parse("127.0.0.5"));
/// await smtp.EhloAsync();
/// await smtp.MailFromAsync("a@remote.example");
/// var rcpt = await smtp.RcptToAsync("alice@example.com");
/// var final = await smtp.DataAsync("Subject: one\r\n\r\nbody\r\n");
/// await smtp.RsetAsync();
/// </code>
/// </example>
public sealed class SmtpScript : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly List<SmtpExchange> _exchanges = [];

    private SmtpScript(Socket socket, TimeSpan timeout, TimeProvider time)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new StreamReader(_stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false);
        _timeout = timeout;
        _time = time;
    }

    /// <summary>The server's greeting.</summary>
    public SmtpResponse Greeting => _exchanges[0].Response;

    /// <summary>Everything so far: the greeting, then each command with its reply (the message data shows as <c>.</c>).</summary>
    public IReadOnlyList<SmtpExchange> Exchanges => [.. _exchanges];

    /// <summary>The local end of the connection (the client address the server sees).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>
    /// Connects from <paramref name="localAddress"/> (any 127.0.0.N plays a different client; null lets the
    /// system choose) and reads the greeting. <paramref name="timeout"/> bounds each later call too (default 30 s).
    /// </summary>
    public static async Task<SmtpScript> ConnectAsync(
        IPEndPoint server, IPAddress? localAddress = null, TimeSpan? timeout = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        var bound = timeout ?? DefaultTimeout;
        time ??= TimeProvider.System;
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SmtpScript? script = null;
        try
        {
            if (localAddress is not null)
            {
                socket.Bind(new IPEndPoint(localAddress, 0));
            }

            using var deadline = new Deadline(bound, time, cancellationToken);
            await socket.ConnectAsync(server, deadline.Token);
            script = new SmtpScript(socket, bound, time);
            script._exchanges.Add(new SmtpExchange(null, await script.ReadResponseAsync(deadline.Token)));
            return script;
        }
        catch (Exception e)
        {
            if (script is not null)
            {
                await script.DisposeAsync();
            }
            else
            {
                socket.Dispose();
            }

            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"No SMTP greeting from {server} within {bound.TotalSeconds:0.#} s.", e);
            }

            throw;
        }
    }

    /// <summary>Sends one command line (without CRLF) and returns the reply.</summary>
    public async Task<SmtpResponse> SendAsync(string commandLine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        if (commandLine.Contains('\r', StringComparison.Ordinal) || commandLine.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException("A command is one line; the CRLF is added here.", nameof(commandLine));
        }

        return await ExchangeAsync(commandLine, commandLine + "\r\n", cancellationToken);
    }

    /// <summary>
    /// Writes <paramref name="text"/> exactly as given and reads no reply: the first part of a message
    /// after DATA, say, for a test that then cuts the session off.
    /// </summary>
    public async Task WriteAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        using var deadline = Deadline(cancellationToken);
        await _stream.WriteAsync(Encoding.UTF8.GetBytes(text), deadline.Token);
        await _stream.FlushAsync(deadline.Token);
    }

    /// <summary><c>EHLO name</c>.</summary>
    public Task<SmtpResponse> EhloAsync(string name = "client.remote.example", CancellationToken cancellationToken = default) =>
        SendAsync($"EHLO {name}", cancellationToken);

    /// <summary><c>MAIL FROM:&lt;address&gt;</c>; an empty address is the null sender.</summary>
    public Task<SmtpResponse> MailFromAsync(string address, CancellationToken cancellationToken = default) =>
        SendAsync($"MAIL FROM:{Bracket(address)}", cancellationToken);

    /// <summary><c>RCPT TO:&lt;address&gt;</c>.</summary>
    public Task<SmtpResponse> RcptToAsync(string address, CancellationToken cancellationToken = default) =>
        SendAsync($"RCPT TO:{Bracket(address)}", cancellationToken);

    /// <summary>
    /// <c>DATA</c>, then — when the server answers 354 — the message (headers, blank line, body; LF or
    /// CRLF line ends), dot-stuffed and ended with the lone dot. Returns the reply to the message, or the
    /// reply to DATA when that was not 354.
    /// </summary>
    public async Task<SmtpResponse> DataAsync(string message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var go = await SendAsync("DATA", cancellationToken);
        return go.Code == 354
            ? await ExchangeAsync(".", Encode(message), cancellationToken)
            : go;
    }

    /// <summary><c>RSET</c>.</summary>
    public Task<SmtpResponse> RsetAsync(CancellationToken cancellationToken = default) => SendAsync("RSET", cancellationToken);

    /// <summary><c>QUIT</c>.</summary>
    public Task<SmtpResponse> QuitAsync(CancellationToken cancellationToken = default) => SendAsync("QUIT", cancellationToken);

    /// <summary>Closes the connection without QUIT.</summary>
    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        await _stream.DisposeAsync();
        _socket.Dispose();
    }

    private async Task<SmtpResponse> ExchangeAsync(string command, string wire, CancellationToken cancellationToken)
    {
        using var deadline = Deadline(cancellationToken);
        try
        {
            await _stream.WriteAsync(Encoding.UTF8.GetBytes(wire), deadline.Token);
            var response = await ReadResponseAsync(deadline.Token);
            _exchanges.Add(new SmtpExchange(command, response));
            return response;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No reply to '{command}' within {_timeout.TotalSeconds:0.#} s. {Describe()}");
        }
    }

    private async Task<SmtpResponse> ReadResponseAsync(CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancellationToken)
                ?? throw new IOException($"The server closed the connection{(lines.Count > 0 ? " inside a reply" : string.Empty)}. {Describe()}");
            lines.Add(line);
            if (line.Length < 4 || SmtpResponse.IsLastLine(line))
            {
                return SmtpResponse.FromLines(lines);
            }
        }
    }

    private Deadline Deadline(CancellationToken cancellationToken) => new(_timeout, _time, cancellationToken);

    private string Describe() =>
        "Transcript:" + string.Concat(_exchanges.Select(e => $"{Environment.NewLine}C: {e.Command ?? "(connect)"}{Environment.NewLine}S: {e.Response.Text}"));

    private static string Bracket(string address) =>
        address.StartsWith('<') ? address : $"<{address}>";

    /// <summary>CRLF line ends, a dot doubled at the start of a line, then CRLF.CRLF.</summary>
    private static string Encode(string message)
    {
        var lines = message.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        if (lines.Length > 1 && lines[^1].Length == 0)
        {
            lines = lines[..^1];
        }

        var wire = new StringBuilder();
        foreach (var line in lines)
        {
            wire.Append(line.StartsWith('.') ? "." : string.Empty).Append(line).Append("\r\n");
        }

        return wire.Append(".\r\n").ToString();
    }
}
