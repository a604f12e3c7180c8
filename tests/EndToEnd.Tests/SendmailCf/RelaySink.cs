using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace EndToEnd.Tests.SendmailCf;

/// <summary>A message as the relay received it: the login, the envelope and the data, dots unstuffed.</summary>
internal sealed record RelayedMessage(string? Login, string MailFrom, IReadOnlyList<string> Recipients, string Data)
{
    /// <summary>The first header of that name, unfolded, or null.</summary>
    public string? Header(string name)
    {
        var head = Data.Split("\r\n\r\n", 2)[0].Replace("\r\n\t", " ", StringComparison.Ordinal).Replace("\r\n ", " ", StringComparison.Ordinal);
        return head.Split("\r\n")
            .Where(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            .Select(l => l[(name.Length + 1)..].Trim())
            .FirstOrDefault();
    }
}

/// <summary>
/// The provider's submission server, played on loopback: ESMTP with <c>AUTH PLAIN</c>, and MAIL is
/// refused until the client logged in with the expected credentials, as a real submission port
/// does. It listens on 127.0.0.2: sendmail counts [127.0.0.1] among its own names (class w) and
/// would treat a smart host there as itself.
/// </summary>
internal sealed class RelaySink : IAsyncDisposable
{
    public static readonly IPAddress Address = IPAddress.Parse("127.0.0.2");
    private static readonly TimeSpan LineTimeout = TimeSpan.FromSeconds(30);

    private readonly TcpListener _listener;
    private readonly string _user;
    private readonly string _password;
    private readonly Channel<RelayedMessage> _messages = Channel.CreateUnbounded<RelayedMessage>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    private RelaySink(string user, string password)
    {
        _user = user;
        _password = password;
        _listener = new TcpListener(Address, 0);
        _listener.Start();
        _serving = ServeAsync(_stop.Token);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Every line the relay read or wrote, for failure messages.</summary>
    public StringBuilder Transcript { get; } = new();

    public static RelaySink Start(string user, string password) => new(user, password);

    /// <summary>The next message the relay accepted, waiting at most <paramref name="timeout"/>.</summary>
    public async Task<RelayedMessage> NextMessageAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            return await _messages.Reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The relay received no message within {timeout.TotalSeconds:0} s. Transcript:\n{Transcript}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _serving;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopping: the accept or a read was interrupted
        }

        _stop.Dispose();
    }

    private async Task ServeAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            using var client = await _listener.AcceptTcpClientAsync(cancellationToken);
            await using var stream = client.GetStream();
            try
            {
                await SessionAsync(stream, cancellationToken);
            }
            catch (IOException e)
            {
                // the client went away mid-session; the next one gets a fresh session
                lock (Transcript)
                {
                    Transcript.Append("!! ").AppendLine(e.Message);
                }
            }
        }
    }

    private async Task SessionAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, Encoding.Latin1);
        await using var writer = new StreamWriter(stream, Encoding.Latin1) { NewLine = "\r\n", AutoFlush = true };

        async Task Reply(string line)
        {
            lock (Transcript)
            {
                Transcript.Append("S: ").AppendLine(line);
            }

            await writer.WriteLineAsync(line);
        }

        async Task<string?> ReadLine()
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(LineTimeout);
            var line = await reader.ReadLineAsync(deadline.Token);
            lock (Transcript)
            {
                Transcript.Append("C: ").AppendLine(line ?? "(closed)");
            }

            return line;
        }

        string? login = null;
        string? from = null;
        var recipients = new List<string>();
        await Reply("220 relay.example.net ESMTP test relay");
        while (await ReadLine() is { } line)
        {
            var verb = line.Split(' ', 2)[0].ToUpperInvariant();
            switch (verb)
            {
                case "EHLO":
                    await Reply("250-relay.example.net");
                    await Reply("250-AUTH PLAIN");
                    await Reply("250-8BITMIME");
                    await Reply("250 ENHANCEDSTATUSCODES");
                    break;
                case "HELO" or "NOOP":
                    await Reply("250 2.0.0 OK");
                    break;
                case "AUTH":
                    var parts = line.Split(' ');
                    if (parts.Length < 2 || !parts[1].Equals("PLAIN", StringComparison.OrdinalIgnoreCase))
                    {
                        await Reply("504 5.5.4 Unrecognized authentication type");
                        break;
                    }

                    var response = parts.Length > 2 ? parts[2] : null;
                    if (response is null)
                    {
                        await Reply("334 ");
                        response = await ReadLine();
                    }

                    login = CheckPlain(response);
                    await Reply(login is null ? "535 5.7.8 Authentication credentials invalid" : "235 2.7.0 Authentication successful");
                    break;
                case "MAIL" when login is null:
                    await Reply("530 5.7.0 Authentication required");
                    break;
                case "MAIL":
                    from = Path(line);
                    recipients.Clear();
                    await Reply("250 2.1.0 Sender OK");
                    break;
                case "RCPT" when from is null:
                    await Reply("503 5.5.1 Need MAIL first");
                    break;
                case "RCPT":
                    recipients.Add(Path(line));
                    await Reply("250 2.1.5 Recipient OK");
                    break;
                case "DATA" when recipients.Count == 0:
                    await Reply("503 5.5.1 Need RCPT first");
                    break;
                case "DATA":
                    await Reply("354 End data with <CR><LF>.<CR><LF>");
                    var data = new StringBuilder();
                    while (await ReadLine() is { } dataLine && dataLine != ".")
                    {
                        data.Append(dataLine.StartsWith('.') ? dataLine[1..] : dataLine).Append("\r\n");
                    }

                    await _messages.Writer.WriteAsync(new RelayedMessage(login, from!, [.. recipients], data.ToString()), cancellationToken);
                    await Reply("250 2.0.0 Ok: queued");
                    from = null;
                    recipients.Clear();
                    break;
                case "RSET":
                    from = null;
                    recipients.Clear();
                    await Reply("250 2.0.0 OK");
                    break;
                case "QUIT":
                    await Reply("221 2.0.0 Bye");
                    return;
                default:
                    await Reply("502 5.5.2 Command not recognized");
                    break;
            }
        }
    }

    /// <summary>SASL PLAIN is base64 of <c>authzid NUL authcid NUL password</c>; returns the login when it matches.</summary>
    private string? CheckPlain(string? base64)
    {
        try
        {
            var fields = Encoding.UTF8.GetString(Convert.FromBase64String(base64 ?? "")).Split('\0');
            return fields.Length == 3 && fields[1] == _user && fields[2] == _password ? fields[1] : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The address between the angle brackets of MAIL FROM:&lt;...&gt; or RCPT TO:&lt;...&gt;.</summary>
    private static string Path(string line)
    {
        var start = line.IndexOf('<', StringComparison.Ordinal);
        var end = line.IndexOf('>', start + 1);
        return start >= 0 && end > start ? line[(start + 1)..end] : "";
    }
}
