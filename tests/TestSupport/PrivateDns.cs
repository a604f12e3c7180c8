using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Milter.TestSupport;

/// <summary>
/// A private DNS server for a test: Debian's dnsmasq (package <c>dnsmasq-base</c>, installed with
/// apt-get when missing and we are root) in the foreground on a loopback address and a free port
/// of its own, serving only the <see cref="PrivateDnsRecords"/> it was given: no upstream, no
/// /etc/hosts, no config file. <see cref="StopAsync"/> and <see cref="StartAsync()"/> play an
/// outage where queries are refused at once; <see cref="SilenceAsync"/> one where they go
/// unanswered until the client gives up. Disposing stops it.
/// </summary>
/// <example>
/// <code>
/// await using var dns = await PrivateDns.StartAsync(records);
/// var config = $"dns: {{ servers: [\"{dns.Server}\"], timeout: 1s }}";
/// </code>
/// </example>
public sealed class PrivateDns : IAsyncDisposable
{
    private const string Binary = "/usr/sbin/dnsmasq";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);

    private readonly PrivateDnsRecords _records;
    private readonly ConcurrentQueue<string> _log = new();
    private Process? _process;
    private Socket? _silent;

    private PrivateDns(PrivateDnsRecords records, IPAddress address, int port)
    {
        _records = records;
        Address = address;
        Port = port;
    }

    public IPAddress Address { get; }

    public int Port { get; private set; }

    public IPEndPoint Endpoint => new(Address, Port);

    /// <summary>The server as <c>dns.servers</c> takes it: <c>127.0.0.53:PORT</c>.</summary>
    public string Server => Address.AddressFamily == AddressFamily.InterNetworkV6
        ? string.Create(CultureInfo.InvariantCulture, $"[{Address}]:{Port}")
        : string.Create(CultureInfo.InvariantCulture, $"{Address}:{Port}");

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>dnsmasq's log (every query it answered), for failure messages.</summary>
    public IReadOnlyList<string> Log => [.. _log];

    /// <summary>Starts dnsmasq on <paramref name="address"/> (any 127.0.0.N, or ::1) and a free port; returns once it answers.</summary>
    public static async Task<PrivateDns> StartAsync(PrivateDnsRecords records, string address = "127.0.0.53")
    {
        ArgumentNullException.ThrowIfNull(records);
        AptPackages.EnsureInstalled("dnsmasq-base");
        var dns = new PrivateDns(records, IPAddress.Parse(address), 0);
        // Another process may take the port between FreePort and the bind: try a few.
        for (var attempt = 1; ; attempt++)
        {
            dns.Port = FreePort.Next();
            if (await dns.TryStartAsync().ConfigureAwait(false))
                return dns;
            if (attempt == 3)
            {
                await dns.DisposeAsync().ConfigureAwait(false);
                throw new InvalidOperationException("dnsmasq did not start:\n" + string.Join('\n', dns.Log));
            }
        }
    }

    /// <summary>Starts it again on the same address and port after <see cref="StopAsync"/> or <see cref="SilenceAsync"/>.</summary>
    public async Task StartAsync()
    {
        if (IsRunning)
            return;
        _silent?.Dispose();
        _silent = null;
        if (!await TryStartAsync().ConfigureAwait(false))
            throw new InvalidOperationException("dnsmasq did not start again:\n" + string.Join('\n', Log));
    }

    /// <summary>Stops the server: queries now meet a closed port and fail at once.</summary>
    public async Task StopAsync()
    {
        var process = _process;
        _process = null;
        if (process is null)
            return;
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync().ConfigureAwait(false);
        }
        process.Dispose();
    }

    /// <summary>Stops the server and holds its UDP port without ever answering: queries time out.</summary>
    public async Task SilenceAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _silent = new Socket(Address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _silent.Bind(Endpoint);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _silent?.Dispose();
        _silent = null;
    }

    private async Task<bool> TryStartAsync()
    {
        var psi = new ProcessStartInfo(Binary)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in Arguments())
            psi.ArgumentList.Add(argument);
        var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        if (!process.Start())
            throw new InvalidOperationException($"could not start {Binary}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < ReadyTimeout)
        {
            if (process.HasExited)
                break;
            // dnsmasq serves TCP on the same port: once that accepts, UDP is bound too.
            using var probe = new Socket(Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(Endpoint).ConfigureAwait(false);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
        }
        await StopAsync().ConfigureAwait(false);
        return false;
    }

    private IEnumerable<string> Arguments()
    {
        yield return "--no-daemon";
        yield return "--conf-file=/dev/null";
        yield return "--log-facility=-";
        yield return "--log-queries";
        yield return "--no-resolv";
        yield return "--no-hosts";
        yield return "--bind-interfaces";
        yield return "--listen-address=" + Address;
        yield return string.Create(CultureInfo.InvariantCulture, $"--port={Port}");
        yield return string.Create(CultureInfo.InvariantCulture, $"--local-ttl={_records.Ttl}");
        yield return string.Create(CultureInfo.InvariantCulture, $"--auth-ttl={_records.Ttl}");
        foreach (var zone in _records.LocalZones)
            yield return $"--local=/{zone}/";
        foreach (var option in _records.Options)
            yield return option;
    }
}
