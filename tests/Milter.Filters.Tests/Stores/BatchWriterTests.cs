using Milter.Filters.Stores;

namespace Milter.Filters.Tests.Stores;

public sealed class BatchWriterTests
{
    [Fact]
    public async Task Items_added_while_a_batch_is_written_go_together_into_the_next()
    {
        var batches = new List<List<int>>();
        var firstStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writer = new BatchWriter<int>(async batch =>
        {
            lock (batches)
                batches.Add(batch);
            if (batches.Count == 1)
            {
                firstStarted.SetResult();
                await releaseFirst.Task;
            }
        }, (_, _) => Assert.Fail("no write fails"), maxBatch: 100);

        writer.Add(0);
        await firstStarted.Task;
        for (var i = 1; i <= 250; i++)
            writer.Add(i);
        Assert.Equal(251, writer.Queued);
        var written = writer.WhenWrittenAsync(default);
        Assert.False(written.IsCompleted);
        releaseFirst.SetResult();
        await written;

        Assert.Equal([1, 100, 100, 50], batches.Select(b => b.Count));
        Assert.Equal(Enumerable.Range(0, 251), batches.SelectMany(b => b));
        Assert.Equal(0, writer.Queued);
    }

    [Fact]
    public async Task A_failed_batch_is_reported_and_the_writer_goes_on()
    {
        var failures = new List<(string, int)>();
        var written = new List<int>();
        var writer = new BatchWriter<int>(batch =>
        {
            if (batch.Contains(13))
                throw new InvalidOperationException("unlucky");
            lock (written)
                written.AddRange(batch);
            return Task.CompletedTask;
        }, (ex, count) => failures.Add((ex.Message, count)), maxBatch: 1);

        foreach (var i in new[] { 12, 13, 14 })
            writer.Add(i);
        await writer.WhenWrittenAsync(default);

        Assert.Equal([("unlucky", 1)], failures);
        Assert.Equal([12, 14], written);
        Assert.Equal(0, writer.Queued);
    }

    [Fact]
    public async Task Waiting_with_nothing_queued_completes_at_once_and_a_wait_can_be_cancelled()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writer = new BatchWriter<int>(_ => gate.Task, (_, _) => { }, maxBatch: 10);
        Assert.True(writer.WhenWrittenAsync(default).IsCompletedSuccessfully);

        writer.Add(1);
        using var cancel = new CancellationTokenSource();
        var waiting = writer.WhenWrittenAsync(cancel.Token);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        gate.SetResult();
        await writer.WhenWrittenAsync(default);
        Assert.Equal(0, writer.Queued);
    }
}
