using Microsoft.Extensions.Hosting;
using Milter.Filters.Stores;

namespace MilterHost.Hosting;

/// <summary>
/// The bypass-ban strikes the recorder writes in the background (no session waits for them): on stop,
/// after the listener has drained, waits for those still running before the stores close.
/// </summary>
internal sealed class BypassBanWrites : IHostedService
{
    public PendingWrites Pending { get; } = new();

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Pending.WhenAllAsync();
}
