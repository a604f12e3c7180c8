using MilterHost.Chain;
using Milter.Filters.Configuration;
using Milter.Filters.Stores;
using MilterHost.Commands;
using MilterHost.Configuration;
using MilterHost.Privileges;

namespace MilterHost.Tools.Admin;

/// <summary>
/// The store the configuration names, opened for one admin command (<c>greylist ...</c>, <c>ban ...</c>).
/// The daemon may be running on it: every operation is a short transaction of its own, and SQLite's
/// WAL mode lets the daemon read and write meanwhile.
/// </summary>
internal sealed class AdminStore : IAsyncDisposable
{
    private AdminStore(LoadedConfig config, MilterStores stores)
    {
        Config = config;
        Stores = stores;
    }

    public LoadedConfig Config { get; }

    public DaemonOptions Options => Config.Options;

    public MilterStores Stores { get; }

    /// <summary>
    /// Loads the configuration and opens its store. Run as root with a SQLite store, it first becomes
    /// the daemon's <c>user:</c>, so that a file it creates (the database, its WAL) stays writable by
    /// the daemon. On failure writes why to <paramref name="error"/> and returns null.
    /// </summary>
    /// <param name="catalog">The filters the executable knows, whose sections the configuration may hold.</param>
    public static async Task<AdminStore?> OpenAsync(string configPath, string command, TextWriter error, TimeProvider time, FilterCatalog catalog,
        CancellationToken cancellationToken)
    {
        var loaded = ConfigLoader.Load(configPath, catalog);
        if (!loaded.Success)
        {
            ConfigErrors.Print(error, loaded.Errors, configPath);
            return null;
        }
        var config = loaded.Config;
        try
        {
            BecomeDaemonUser(config);
            var stores = await StoreFactory.OpenAsync(config.Options.Database, time, cancellationToken: cancellationToken).ConfigureAwait(false);
            return new AdminStore(config, stores);
        }
        catch (PrivilegeException e)
        {
            await error.WriteLineAsync($"{command}: {e.Message}").ConfigureAwait(false);
        }
        catch (StoreUnavailableException e)
        {
            await error.WriteLineAsync($"{command}: cannot open the store: {e.Message}").ConfigureAwait(false);
        }
        return null;
    }

    /// <summary>
    /// Run as root with a SQLite store: becomes the config's <c>user:</c> for the rest of the process, so
    /// that the files SQLite creates (the database, its WAL) are the daemon's; as anyone, creates them
    /// with the daemon's umask (<see cref="PrivilegeDropper.KeepFilesPrivate"/>). Throws <see cref="PrivilegeException"/>.
    /// </summary>
    public static void BecomeDaemonUser(LoadedConfig config)
    {
        PrivilegeDropper.KeepFilesPrivate();
        if (config.Database.Kind == DatabaseKind.Sqlite && PrivilegeDropper.IsRoot && config.Options.User is { } user && user != "root")
            PrivilegeDropper.Apply(user);
    }

    public ValueTask DisposeAsync() => Stores.DisposeAsync();
}
