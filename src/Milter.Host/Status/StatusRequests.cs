using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Milter.Filters.Stats;
using Milter.Filters.Stores;

namespace MilterHost.Status;

/// <summary>
/// The status listener's answer to every request: first the bound on requests served at once, then
/// the token, then the path. The summary and the hourly counts come from <see cref="CachedResult{T}"/>.
/// </summary>
internal sealed class StatusRequests
{
    private readonly byte[]? _expected;
    private readonly StatusSources _sources;
    private readonly CachedResult<StatsReport> _summary;
    private readonly CachedResult<HourlyCounts> _hourly;
    private int _inFlight;

    public StatusRequests(byte[]? expected, StatusSources sources, CancellationToken stopping)
    {
        _expected = expected;
        _sources = sources;
        _summary = new CachedResult<StatsReport>(SummaryAsync, sources.Time, StatusServer.SummaryLifetime, stopping);
        _hourly = new CachedResult<HourlyCounts>(HourlyAsync, sources.Time, StatusServer.SummaryLifetime, stopping);
    }

    public int InFlight => Volatile.Read(ref _inFlight);

    public async Task HandleAsync(HttpContext context)
    {
        if (Interlocked.Increment(ref _inFlight) > StatusServer.MaxConcurrentRequests)
        {
            Interlocked.Decrement(ref _inFlight);
            await BusyAsync(context.Response, context.RequestAborted).ConfigureAwait(false);
            return;
        }
        try
        {
            await ServeAsync(context).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private static async Task BusyAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        response.Headers.CacheControl = "no-store";
        response.Headers.RetryAfter = "5";
        response.ContentType = "text/plain; charset=utf-8";
        await response.WriteAsync($"503 Service Unavailable: {StatusServer.MaxConcurrentRequests} status requests are being served; try again in a few seconds\n", cancellationToken)
            .ConfigureAwait(false);
    }

    private async Task ServeAsync(HttpContext context)
    {
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        if (_expected is null && !NamesThisHost(context.Request.Host.Host))
        {
            // DNS rebinding: a web page whose own name the attacker then points at 127.0.0.1 would read
            // a listener without a token as its own. Such a listener answers only to an address or localhost.
            response.StatusCode = StatusCodes.Status421MisdirectedRequest;
            await response.WriteAsync("421 Misdirected Request: without status.token this listener answers only to its address or localhost\n",
                context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (_expected is not null && !Authorized(context.Request, _expected))
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
                    await _sources.Metrics.WriteAsync(response.Body, cancellationToken).ConfigureAwait(false);
                    break;
                case "/api/summary":
                    response.ContentType = "application/json; charset=utf-8";
                    await response.WriteAsync(StatsJson.Write(await _summary.GetAsync(cancellationToken).ConfigureAwait(false)) + "\n", cancellationToken).ConfigureAwait(false);
                    break;
                case "/" or "/index.html":
                    response.ContentType = "text/html; charset=utf-8";
                    await response.WriteAsync(StatusPage.Render(await PageAsync(cancellationToken).ConfigureAwait(false)), cancellationToken).ConfigureAwait(false);
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
    private async Task<StatsReport> SummaryAsync(CancellationToken cancellationToken)
    {
        await _sources.Stores.Tally.FlushAsync(cancellationToken).ConfigureAwait(false);
        return await StatsReporter.CreateAsync(_sources.Stores, _sources.Options().Greylist, _sources.Time.GetUtcNow(), StatusServer.SummaryWindow, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The chart's decisions per hour, up to the end of the current hour.</summary>
    private async Task<HourlyCounts> HourlyAsync(CancellationToken cancellationToken)
    {
        var now = _sources.Time.GetUtcNow();
        var hourEnd = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() / 3600 * 3600 + 3600);
        var hoursFrom = hourEnd.AddHours(-StatusPage.Hours);
        return new HourlyCounts(hoursFrom, await _sources.Stores.Tally.HourlyAsync(hoursFrom, hourEnd, cancellationToken).ConfigureAwait(false));
    }

    private async Task<StatusPageModel> PageAsync(CancellationToken cancellationToken)
    {
        var summary = await _summary.GetAsync(cancellationToken).ConfigureAwait(false);
        var hourly = await _hourly.GetAsync(cancellationToken).ConfigureAwait(false);
        return new StatusPageModel(Environment.MachineName, _sources.Version, _sources.Time.GetUtcNow(), _sources.Generation(), _sources.ActiveConnections(), ProcStatus.Read(), summary,
            hourly.From, hourly.Rows, _sources.Recent.Snapshot());
    }

    /// <summary>An address literal or localhost: no name an attacker's DNS can point here.</summary>
    internal static bool NamesThisHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.Equals("localhost.", StringComparison.OrdinalIgnoreCase)
        || System.Net.IPAddress.TryParse(host.Trim('[', ']'), out _);

    /// <summary><c>Authorization: Bearer TOKEN</c>, the scheme in any case (RFC 9110 11.1), the token compared in constant time.</summary>
    private static bool Authorized(HttpRequest request, byte[] expected)
    {
        var header = request.Headers.Authorization.ToString();
        var space = header.IndexOf(' ');
        if (space < 0 || !header.AsSpan(0, space).Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            return false;
        var given = Encoding.UTF8.GetBytes(header[(space + 1)..].TrimStart(' '));
        return CryptographicOperations.FixedTimeEquals(given, expected);
    }
}
