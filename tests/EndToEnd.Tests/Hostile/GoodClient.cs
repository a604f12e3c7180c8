using System.Diagnostics;
using System.Globalization;
using System.Net;
using EndToEnd.Tests.Daemon;
using Milter.Protocol.Client;
using Milter.Protocol.Wire;

namespace EndToEnd.Tests.Hostile;

/// <summary>
/// A well-behaved MTA on one milter connection that sends message after message until stopped,
/// counting the end-of-message answers it got and the ones that were wrong or missing.
/// </summary>
internal sealed class GoodClient : IAsyncDisposable
{
    private readonly MilterClient _client;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    private GoodClient(MilterClient client) => _client = client;

    public int Answered { get; private set; }

    public List<string> Wrong { get; } = [];

    /// <summary>Opens the connection and sends one message before returning, so it holds its slot.</summary>
    public static async Task<GoodClient> StartAsync(EndPoint endPoint)
    {
        using var cancel = new CancellationTokenSource(Mta.Bound);
        var client = await Mta.OpenAsync(endPoint, cancel.Token);
        await Mta.ConnectAsync(client, "127.0.0.1", cancel.Token);
        var good = new GoodClient(client);
        await good.OneAsync(cancel.Token);
        good._loop = good.LoopAsync();
        return good;
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            bound.CancelAfter(Mta.Bound);
            try
            {
                await OneAsync(bound.Token);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or EndOfStreamException)
            {
                Wrong.Add(e.GetType().Name + ": " + e.Message);
                return;
            }
        }
    }

    private async Task OneAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        var id = string.Create(CultureInfo.InvariantCulture, $"5ATgood{Answered:D5}");
        var rcpt = await Mta.EnvelopeAsync(_client, id, "sender@outside.example", "alice@example.com", cancellationToken);
        var eom = await Mta.ContentAsync(_client, "hello", cancellationToken);
        if (rcpt.Code != ReplyCode.Continue || eom.Code != ReplyCode.Continue)
            Wrong.Add($"{id}: rcpt {rcpt}, eom {eom}");
        else if (started.Elapsed > TimeSpan.FromSeconds(5))
            Wrong.Add($"{id}: answered after {started.Elapsed.TotalSeconds:0.0} s");
        Answered++;
    }

    /// <summary>Stops after the message in flight; returns how many were answered.</summary>
    public async Task<int> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        return Answered;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _client.DisposeAsync();
        _stop.Dispose();
    }
}
