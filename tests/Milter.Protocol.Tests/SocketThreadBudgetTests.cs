using Microsoft.Extensions.Time.Testing;
using Milter.Protocol.Session;
using Milter.Protocol.Tests.Support;

namespace Milter.Protocol.Tests;

/// <summary>
/// A session whose reads never wait (its peer's commands are all there already) keeps the thread it
/// runs on for at most <see cref="SocketThreadBudget.Stretch"/>, on the session's own clock.
/// </summary>
public sealed class SocketThreadBudgetTests
{
    private const int Helos = 20;

    [Fact]
    public async Task A_session_that_never_waits_runs_on_its_thread_while_its_stretch_lasts()
    {
        var (run, onPool, session) = await RunPipelined(perHelo: TimeSpan.Zero);
        await using (session)
        {
            // On a clock that does not move, the stretch is never spent: the whole session ran in the call that started it.
            Assert.True(run.IsCompleted);
            Assert.Equal(Helos, onPool.Count);
            Assert.All(onPool, p => Assert.False(p));
        }
    }

    [Fact]
    public async Task A_session_that_never_waits_gives_its_thread_up_once_its_stretch_is_spent()
    {
        var (_, onPool, session) = await RunPipelined(perHelo: SocketThreadBudget.Stretch / 4);
        await using (session)
        {
            // The HELOs within the first stretch ran on the thread that started the session; from the
            // first one after it, the session went on on the pool.
            await session.WaitForEndAsync();
            Assert.Equal(Helos, onPool.Count);
            Assert.All(onPool.Take(4), p => Assert.False(p));
            Assert.True(onPool[4]);
            var output = await session.ReadAllOutputAsync();
            Assert.Equal(Helos + 2, Bytes.CountFrames(output)); // OPTNEG, CONNECT and every HELO answered
        }
    }

    /// <summary>
    /// Fills the session's input (OPTNEG, CONNECT, <see cref="Helos"/> HELOs, QUIT) before it starts,
    /// and starts it on a thread of its own; each HELO moves the session's clock by <paramref name="perHelo"/>.
    /// </summary>
    /// <returns>Per HELO, whether it ran on a thread-pool thread (the starting thread is not one).</returns>
    private static async Task<(Task Run, List<bool> OnPool, PipeSession Session)> RunPipelined(TimeSpan perHelo)
    {
        var time = new FakeTimeProvider();
        var onPool = new List<bool>();
        var handler = new ScriptedHandler
        {
            Script = c =>
            {
                if (c.Stage == "HELO")
                {
                    lock (onPool)
                        onPool.Add(Thread.CurrentThread.IsThreadPoolThread);
                    time.Advance(perHelo);
                }
                return default;
            },
        };
        var session = PipeSession.Create(handler, time: time);
        await session.SendAsync(Bytes.Concat([Bytes.SendmailOffer, Bytes.Connect4(), .. Enumerable.Repeat(Bytes.Helo(), Helos), Bytes.Bare('Q')]));
        Task run = Task.CompletedTask;
        var starter = new Thread(() => run = session.StartRun());
        starter.Start();
        starter.Join();
        return (run, onPool, session);
    }
}
