using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MilterHost.Tools.RelayTest;

/// <summary>The server closed the connection, or answered 421 and is about to.</summary>
public sealed class SmtpConnectionLostException(string message) : IOException(message);

/// <summary>
/// A plain-text SMTP conversation over one TCP connection, as a person with telnet would hold it:
/// write a command line, read the (possibly multi-line) reply. Every connect and every reply is
/// bounded by <see cref="Timeout"/>. Each line in either direction goes to the transcript callback.
/// </summary>
public sealed class SmtpProbeConnection : IAsyncDisposable
{
    // RFC 5321 allows 512 octets per reply line; servers send more, but not this much.
    private const int MaxLine = 8192;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Action<string>? _transcript;
    private readonly byte[] _buffer = new byte[MaxLine];
    private int _start;
    private int _end;

    private SmtpProbeConnection(Socket socket, TimeSpan timeout, Action<string>? transcript)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Timeout = timeout;
        _transcript = transcript;
    }

    public TimeSpan Timeout { get; }

    /// <summary>The server's address and port as connected.</summary>
    public IPEndPoint Remote => (IPEndPoint)_socket.RemoteEndPoint!;

    /// <summary>The probe's own address and port (the one <c>--source</c> chose).</summary>
    public IPEndPoint Local => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Opens the connection from <paramref name="source"/> (any local address when null).</summary>
    /// <exception cref="SocketException">Refused, unreachable, or the source address is not ours.</exception>
    /// <exception cref="TimeoutException">No connection within <paramref name="timeout"/>.</exception>
    public static async Task<SmtpProbeConnection> ConnectAsync(IPEndPoint server, IPAddress? source, TimeSpan timeout, Action<string>? transcript,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null)
                socket.Bind(new IPEndPoint(source, 0));
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(timeout);
            try
            {
                await socket.ConnectAsync(server, bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"no connection to {server} within {Configuration.Duration.Format(timeout)}");
            }
            return new SmtpProbeConnection(socket, timeout, transcript);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads one reply: the greeting, or the answer to a command already written.</summary>
    /// <exception cref="SmtpConnectionLostException">The server closed the connection, or answered 421.</exception>
    /// <exception cref="TimeoutException">No complete reply within <see cref="Timeout"/>.</exception>
    /// <exception cref="FormatException">The server does not speak SMTP.</exception>
    public async Task<ServerReply> ReadReplyAsync(CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(Timeout);
        var lines = new List<string>();
        try
        {
            while (true)
            {
                var line = await ReadLineAsync(bound.Token).ConfigureAwait(false)
                    ?? throw new SmtpConnectionLostException(lines.Count == 0 ? "the server closed the connection" : "the server closed the connection inside a reply");
                _transcript?.Invoke("<<< " + line);
                if (ServerReply.Accumulate(lines, line) is { } reply)
                    return reply.IsClosing ? throw new SmtpConnectionLostException("the server is closing the connection: " + reply.Text) : reply;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no reply within {Configuration.Duration.Format(Timeout)}");
        }
        catch (IOException e) when (e is not SmtpConnectionLostException)
        {
            throw new SmtpConnectionLostException("the connection broke: " + e.Message);
        }
    }

    /// <summary>Writes <paramref name="command"/> and CRLF, then reads the reply.</summary>
    public async Task<ServerReply> CommandAsync(string command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.AsSpan().IndexOfAny('\r', '\n') >= 0)
            throw new ArgumentException("an SMTP command is one line", nameof(command));
        _transcript?.Invoke(">>> " + command);
        try
        {
            await _stream.WriteAsync(Encoding.Latin1.GetBytes(command + "\r\n"), cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new SmtpConnectionLostException("the connection broke: " + e.Message);
        }
        return await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var length = newline - _start;
                if (length > 0 && _buffer[newline - 1] == '\r')
                    length--;
                // Latin-1 maps every byte to one char: whatever the server sends is shown, nothing is lost.
                var line = Encoding.Latin1.GetString(_buffer, _start, length);
                _start = newline + 1;
                return line;
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
                throw new FormatException($"a reply line longer than {MaxLine} bytes");
            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
                return null;
            _end += read;
        }
    }

    public async ValueTask DisposeAsync() => await _stream.DisposeAsync().ConfigureAwait(false);
}
