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
    public async Task With_a_gathering_time_the_items_added_meanwhile_share_a_batch_and_a_whole_batch_waiting_goes_at_once()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var batches = new List<List<int>>();
        var writer = new BatchWriter<int>(batch =>
        {
            lock (batches)
                batches.Add(batch);
            return Task.CompletedTask;
        }, (_, _) => Assert.Fail("no write fails"), maxBatch: 4, gather: TimeSpan.FromMilliseconds(10), time);
        int Batches()
        {
            lock (batches)
                return batches.Count;
        }
        // Moves the fake clock a millisecond at a time until the writer has written `count` batches; returns how far.
        async Task<TimeSpan> AdvanceUntil(int count)
        {
            var waited = TimeSpan.Zero;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (Batches() < count && DateTime.UtcNow < deadline)
            {
                time.Advance(TimeSpan.FromMilliseconds(1));
                waited += TimeSpan.FromMilliseconds(1);
                await Task.Delay(1);
            }
            return waited;
        }

        writer.Add(1);
        writer.Add(2);
        await Task.Delay(50);
        Assert.Equal(0, Batches()); // the writer waits for the gathering time on its clock
        var waited = await AdvanceUntil(1);
        Assert.True(waited >= TimeSpan.FromMilliseconds(10), $"written after {waited.TotalMilliseconds} ms");
        Assert.Equal([1, 2], batches[0]);

        // Nine added at once: the first four (at once, or after the gathering time if the writer started
        // before the rest were queued), the next four at once (a whole batch is waiting), the last one
        // only after another gathering time.
        for (var i = 3; i <= 11; i++)
            writer.Add(i);
        await AdvanceUntil(2);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Batches() < 3 && DateTime.UtcNow < deadline)
            await Task.Delay(5);
        await Task.Delay(50);
        Assert.Equal(3, Batches());
        Assert.Equal([3, 4, 5, 6], batches[1]);
        Assert.Equal([7, 8, 9, 10], batches[2]);
        await AdvanceUntil(4);
        Assert.Equal([11], batches[3]);
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
