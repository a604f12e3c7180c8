using System.CommandLine;
using MilterHost.Chain;
using MilterHost.Configuration;

namespace MilterHost.Commands;

/// <summary>The daemon: runs on a checked configuration until <paramref name="cancellationToken"/> fires; returns the exit status.</summary>
public delegate Task<int> DaemonEntry(LoadedConfig config, ParseResult parseResult, CancellationToken cancellationToken);

/// <summary><c>milterhost run [--config PATH]</c>: the milter daemon in the foreground.</summary>
public static class RunCommand
{
    /// <param name="daemon">What runs once the configuration is good; null: the daemon.</param>
    /// <param name="setup">The executable's own filters; null: the built-in ones.</param>
    public static Command Create(DaemonEntry? daemon = null, MilterHostSetup? setup = null)
    {
        setup ??= MilterHostSetup.BuiltIn;
        var config = ConfigOption.Create();
        var command = new Command("run",
            "Run the milter daemon in the foreground (for systemd Type=notify, or by hand). "
            + "Reads the configuration first and exits with status 1, printing every error, if it is not valid. "
            + "SIGHUP reloads the configuration (also to switch mode: between enforce and monitor); SIGTERM or SIGINT stops it.")
        {
            config,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var path = parseResult.GetValue(config) ?? ConfigLoader.DefaultPath;
            var result = ConfigLoader.Load(path, setup.Catalog);
            if (!result.Success)
            {
                var error = parseResult.InvocationConfiguration.Error;
                await error.WriteLineAsync("milterhost: not starting: the configuration has errors").ConfigureAwait(false);
                ConfigErrors.Print(error, result.Errors, path);
                return 1;
            }
            return await (daemon ?? ((c, p, ct) => Hosting.Daemon.RunAsync(c, setup, p, ct)))(result.Config, parseResult, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

}
