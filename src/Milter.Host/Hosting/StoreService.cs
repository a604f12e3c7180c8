using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Milter.Filters.Recipients;
using Milter.Filters.Stores;
using MilterHost.Configuration;
using MilterHost.Native;
using MilterHost.Status;

namespace MilterHost.Hosting;

/// <summary>
/// Opens the greylist, ban and tally stores when the host starts (after the privilege drop, so the
/// files are the daemon user's) and closes them when the host is disposed, after every service that
/// uses them has stopped.
/// </summary>
internal sealed class StoreService(LoadedConfig config, DaemonMetrics metrics, TimeProvider time, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private MilterStores? _stores;

    public MilterStores Stores => _stores ?? throw new InvalidOperationException("the stores open when the host starts");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (config.Database.Kind == DatabaseKind.Sqlite)
            RefuseUnwritable(config.Database.Target);
        _stores = await StoreFactory.OpenAsync(config.Options.Database, time, loggers, StoreOptions.Daemon, cancellationToken).ConfigureAwait(false);
        _stores.Observer = metrics;
    }

    /// <summary>
    /// SQLite opens a file it may not write read-only, without a word: the daemon would say it started
    /// and then fail every write. A database left root's (copied back from a backup by root, say) is
    /// refused at the start instead, naming the owner to change.
    /// </summary>
    private static void RefuseUnwritable(string path)
    {
        var file = FileEntry.OfPath(path);
        if (file.Kind != FileKind.Regular || Posix.MayWrite(path))
            return; // missing: SQLite creates it; not a file: SQLite says why it cannot open it
        var owner = new LocalAccounts().NameOf(file.Owner) ?? file.Owner.ToString(CultureInfo.InvariantCulture);
        throw new StoreUnavailableException(string.Create(CultureInfo.InvariantCulture,
            $"sqlite:{path}: user {Environment.UserName} (uid {Tmds.Linux.LibC.geteuid()}) cannot write this file (owner {owner}, mode {FileEntry.Octal(file.Permissions)}); give it to that user (chown)"));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_stores is not null)
            await _stores.DisposeAsync().ConfigureAwait(false);
    }
}
