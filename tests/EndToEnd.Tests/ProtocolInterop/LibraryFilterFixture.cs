using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using Milter.TestSupport;

namespace EndToEnd.Tests.ProtocolInterop;

/// <summary>
/// A real sendmail 8.17 wired by INPUT_MAIL_FILTER to a handler running on the library's
/// <see cref="MilterServer"/>, on a Unix socket in the sendmail sandbox. Subclasses give the
/// handler, the server options (read per connection) and sendmail's options.
/// </summary>
public abstract class LibraryFilterFixture : SendmailFixture
{
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task? _server;

    protected abstract IMilterHandler CreateHandler();

    /// <summary>Read for every new connection, so a test may change what it returns between messages.</summary>
    protected virtual SessionOptions ServerOptions() => new() { Limits = new() { ShutdownGrace = TimeSpan.FromSeconds(1) } };

    /// <summary>sendmail's options; <paramref name="milterSocket"/> is the <c>S=</c> value of the filter.</summary>
    protected abstract SendmailOptions SendmailOptionsFor(string milterSocket);

    protected sealed override SendmailOptions CreateOptions(string sandbox)
    {
        // sendmail connects to the filter per SMTP session; the listener must exist before the first one.
        var socketPath = Path.Combine(sandbox, "filter.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        _listener.Listen(64);
        File.SetUnixFileMode(socketPath, (UnixFileMode)Convert.ToInt32("666", 8));
        var server = new MilterServer(_listener, CreateHandler, ServerOptions, TimeProvider.System, NullLogger<MilterServer>.Instance);
        _server = server.RunAsync(_stop.Token);
        return SendmailOptionsFor($"unix:{socketPath}");
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _stop.CancelAsync();
        if (_server is not null) await _server;
        _listener?.Dispose();
        _stop.Dispose();
    }
}
