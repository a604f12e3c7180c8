using MilterHost.Tools.Backup;

namespace MilterHost.Tests.Backup;

/// <summary>The mailbox's dot-lock on a real file system.</summary>
public sealed class DotLockTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("milterhost-dotlock-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Refresh_keeps_our_lock_young_and_leaves_a_lock_that_replaced_ours_alone()
    {
        var path = Path.Combine(_folder, "bob.lock");
        Assert.Equal(DotLock.Outcome.Taken, DotLock.TryTake(path, out var held, out _));
        var old = DateTime.UtcNow - TimeSpan.FromMinutes(10);
        File.SetLastWriteTimeUtc(path, old);
        var now = DateTimeOffset.UtcNow;

        held!.Refresh(now);
        Assert.InRange(File.GetLastWriteTimeUtc(path), now.UtcDateTime - TimeSpan.FromSeconds(1), now.UtcDateTime + TimeSpan.FromSeconds(1));
        Assert.False(DotLock.RemoveIfStale(path, now + TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5)));

        // Someone judged it stale and took the mailbox: theirs is neither refreshed nor removed by us.
        File.Delete(path);
        File.WriteAllText(path, "1\n");
        File.SetLastWriteTimeUtc(path, old);
        held.Refresh(now);
        held.Release();
        Assert.Equal(old, File.GetLastWriteTimeUtc(path));
    }
}
