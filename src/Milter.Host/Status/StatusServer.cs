using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MilterHost.Configuration;
using MilterHost.Listening;

namespace MilterHost.Status;

/// <summary>
/// The <c>status.listen</c> HTTP listener inside the daemon, on Kestrel from the shared framework:
/// <c>/</c> the status page, <c>/metrics</c> the Prometheus text format, <c>/api/summary</c> the JSON
/// of <c>milterhost stats --json</c>. With <c>status.token</c> every request needs
/// <c>Authorization: Bearer TOKEN</c> (401 otherwise). It never touches the process's signals:
/// the daemon stops it. What it reads from the database is kept for <see cref="SummaryLifetime"/>,
/// and at most <see cref="MaxConcurrentRequests"/> requests are served at once, so a busy scraper or
/// a crowd of browsers never holds the database or the thread pool the milter sessions need.
/// </summary>
internal sealed class StatusServer : IAsyncDisposable
{
    /// <summary>The window of <c>/api/summary</c> and of the page's summary, as <c>stats</c> defaults to.</summary>
    public static readonly TimeSpan SummaryWindow = TimeSpan.FromHours(24);

    /// <summary>
    /// How long the summary (a write of the waiting tally and the 24 h queries) and the page's hourly
    /// counts are served from memory: a page reloaded or scraped every second reads the database
    /// once per this period.
    /// </summary>
    public static readonly TimeSpan SummaryLifetime = TimeSpan.FromSeconds(5);

    /// <summary>Requests served at once; one more gets 503 at once. A scraper and an admin or two need no more.</summary>
    public const int MaxConcurrentRequests = 4;

    private readonly WebApplication _app;
    private readonly StatusRequests _handler;
    private readonly CancellationTokenSource _stopping;

    private StatusServer(WebApplication app, StatusRequests handler, CancellationTokenSource stopping)
    {
        _app = app;
        _handler = handler;
        _stopping = stopping;
    }

    /// <summary>Requests being served now (the 503s left out).</summary>
    public int RequestsInFlight => _handler.InFlight;

    /// <summary>Binds <paramref name="endpoint"/> and starts serving; a bind failure is an <see cref="IOException"/> naming the address.</summary>
    public static async Task<StatusServer> StartAsync(IPEndPoint endpoint, string? token, StatusSources sources, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(sources);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "milterhost", ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 0;
            kestrel.Limits.MaxConcurrentConnections = 64;
            // A scraper asks and goes; connections that send nothing give their place up soon, not after Kestrel's 130 s.
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(10);
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(5);
            kestrel.Listen(endpoint);
        });
        // Our log, but only Kestrel's warnings and errors: a line per request would drown the decisions.
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(loggers));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // The daemon owns SIGTERM/SIGINT (drain first); the web host must not stop itself on them.
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        var app = builder.Build();
        var stopping = new CancellationTokenSource();
        var handler = new StatusRequests(token is null ? null : Encoding.UTF8.GetBytes(token), sources, stopping.Token);
        app.Run(handler.HandleAsync);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            stopping.Dispose();
            throw new IOException($"status.listen {endpoint}: {e.Message}", e);
        }
        return new StatusServer(app, handler, stopping);
    }

    /// <summary><c>status.listen</c> (<c>HOST:PORT</c>, checked by the config loader) as an endpoint; a name resolves to its IPv4 address.</summary>
    public static IPEndPoint ParseEndpoint(string listen)
    {
        ArgumentNullException.ThrowIfNull(listen);
        if (!NetworkSyntax.TryParseHostPort(listen.Trim(), portOptional: false, allowNames: true, out var host, out var port) || port is null)
            throw new ArgumentException($"status.listen '{listen}' is not HOST:PORT");
        return new IPEndPoint(ListenerBinder.ResolveHost(host, AddressFamily.InterNetwork), port.Value);
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            await _app.StopAsync(stop.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _stopping.Dispose();
        }
    }

    /// <summary>Hands the web host's loggers out of the daemon's own factory.</summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory loggers) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => loggers.CreateLogger(categoryName);

        public void Dispose() { }
    }

    /// <summary>A host lifetime that ignores the process's signals.</summary>
    private sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
