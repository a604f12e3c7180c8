using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Milter.Filters.Stats;
using Milter.Filters.Stores;
using MilterHost.Configuration;
using MilterHost.Listening;

namespace MilterHost.Status;

/// <summary>
/// The <c>status.listen</c> HTTP listener inside the daemon, on Kestrel from the shared framework:
/// <c>/</c> the status page, <c>/metrics</c> the Prometheus text format, <c>/api/summary</c> the JSON
/// of <c>milterhost stats --json</c>. With <c>status.token</c> every request needs
/// <c>Authorization: Bearer TOKEN</c> (401 otherwise). It never touches the process's signals:
/// the daemon stops it.
/// </summary>
internal sealed class StatusServer : IAsyncDisposable
{
    /// <summary>The window of <c>/api/summary</c> and of the page's summary, as <c>stats</c> defaults to.</summary>
    public static readonly TimeSpan SummaryWindow = TimeSpan.FromHours(24);

    private readonly WebApplication _app;

    private StatusServer(WebApplication app)
    {
        _app = app;
    }

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
            kestrel.Listen(endpoint);
        });
        // Our log, but only Kestrel's warnings and errors: a line per request would drown the decisions.
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(loggers));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // The daemon owns SIGTERM/SIGINT (drain first); the web host must not stop itself on them.
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        var app = builder.Build();
        var expected = token is null ? null : Encoding.UTF8.GetBytes("Bearer " + token);
        app.Run(context => HandleAsync(context, expected, sources));
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"status.listen {endpoint}: {e.Message}", e);
        }
        return new StatusServer(app);
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
            await _app.StopAsync(stop.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task HandleAsync(HttpContext context, byte[]? expected, StatusSources sources)
    {
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        if (expected is not null && !Authorized(context.Request, expected))
        {
            response.StatusCode = StatusCodes.Status401Unauthorized;
            response.Headers.WWWAuthenticate = "Bearer realm=\"milterhost\"";
            await response.WriteAsync("401 Unauthorized: send Authorization: Bearer <status.token>\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return;
        }
        var cancellationToken = context.RequestAborted;
        try
        {
            switch (context.Request.Path.Value)
            {
                case "/metrics":
                    response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                    await sources.Metrics.WriteAsync(response.Body, cancellationToken).ConfigureAwait(false);
                    break;
                case "/api/summary":
                    response.ContentType = "application/json; charset=utf-8";
                    await response.WriteAsync(StatsJson.Write(await SummaryAsync(sources, cancellationToken).ConfigureAwait(false)) + "\n", cancellationToken).ConfigureAwait(false);
                    break;
                case "/" or "/index.html":
                    response.ContentType = "text/html; charset=utf-8";
                    await response.WriteAsync(StatusPage.Render(await PageAsync(sources, cancellationToken).ConfigureAwait(false)), cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    response.StatusCode = StatusCodes.Status404NotFound;
                    response.ContentType = "text/plain; charset=utf-8";
                    await response.WriteAsync("404 Not Found: try /, /metrics or /api/summary\n", cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
        catch (StoreUnavailableException e) when (!response.HasStarted)
        {
            response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync($"503 Service Unavailable: the database cannot be read: {e.Message}\n", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The stats of the last 24 hours, with the decisions still waiting in the tally written first.</summary>
    private static async Task<StatsReport> SummaryAsync(StatusSources sources, CancellationToken cancellationToken)
    {
        await sources.Stores.Tally.FlushAsync(cancellationToken).ConfigureAwait(false);
        return await StatsReporter.CreateAsync(sources.Stores, sources.Options().Greylist, sources.Time.GetUtcNow(), SummaryWindow, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<StatusPageModel> PageAsync(StatusSources sources, CancellationToken cancellationToken)
    {
        var summary = await SummaryAsync(sources, cancellationToken).ConfigureAwait(false);
        var now = sources.Time.GetUtcNow();
        var hourEnd = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() / 3600 * 3600 + 3600);
        var hoursFrom = hourEnd.AddHours(-StatusPage.Hours);
        var hourly = await sources.Stores.Tally.HourlyAsync(hoursFrom, hourEnd, cancellationToken).ConfigureAwait(false);
        return new StatusPageModel(Environment.MachineName, sources.Version, now, sources.Generation(), sources.ActiveConnections(), summary,
            hoursFrom, hourly, sources.Recent.Snapshot());
    }

    private static bool Authorized(HttpRequest request, byte[] expected)
    {
        var given = Encoding.UTF8.GetBytes(request.Headers.Authorization.ToString());
        return CryptographicOperations.FixedTimeEquals(given, expected);
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
