using MilterHost.Hosting;

namespace MilterHost.Tests.Hosting;

/// <summary>The daemon never runs on deaf: a server that stops accepting unasked ends it (status 1, for systemd to restart).</summary>
public sealed class MilterListenerTests
{
    [Fact]
    public async Task A_server_that_fails_or_returns_unasked_is_reported_with_its_exception()
    {
        using var stop = new CancellationTokenSource();
        var failed = new TaskCompletionSource<Exception?>();
        var serving = new TaskCompletionSource();
        MilterListener.WhenEndedUnasked(serving.Task, stop.Token, e => failed.TrySetResult(e));

        serving.SetException(new ObjectDisposedException("listener"));

        Assert.IsType<ObjectDisposedException>(await failed.Task.WaitAsync(TimeSpan.FromSeconds(10)));

        var returned = new TaskCompletionSource<Exception?>();
        MilterListener.WhenEndedUnasked(Task.CompletedTask, stop.Token, e => returned.TrySetResult(e));
        Assert.Null(await returned.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_server_that_ends_because_the_daemon_stops_is_not_reported()
    {
        using var stop = new CancellationTokenSource();
        var reported = false;
        var serving = new TaskCompletionSource();
        MilterListener.WhenEndedUnasked(serving.Task, stop.Token, _ => reported = true);

        await stop.CancelAsync();
        serving.SetResult();
        await serving.Task;

        Assert.False(reported);
    }
}
