using System.CommandLine;
using MilterHost.Configuration;

namespace MilterHost.Commands;

/// <summary>The daemon: runs on a checked configuration until <paramref name="cancellationToken"/> fires; returns the exit status.</summary>
public delegate Task<int> DaemonEntry(LoadedConfig config, ParseResult parseResult, CancellationToken cancellationToken);

/// <summary><c>milterhost run [--config PATH]</c>: the milter daemon in the foreground.</summary>
public static class RunCommand
{
    /// <param name="daemon">What runs once the configuration is good; null: <see cref="RunDaemonAsync"/>.</param>
    public static Command Create(DaemonEntry? daemon = null)
    {
        var config = ConfigOption.Create();
        var command = new Command("run",
            "Run the milter daemon in the foreground (for systemd Type=notify, or by hand). "
            + "Reads the configuration first and exits with status 1, printing every error, if it is not valid. "
            + "SIGHUP reloads the configuration; SIGTERM or SIGINT stops it.")
        {
            config,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var path = parseResult.GetValue(config) ?? ConfigLoader.DefaultPath;
            var result = ConfigLoader.Load(path);
            if (!result.Success)
            {
                var error = parseResult.InvocationConfiguration.Error;
                await error.WriteLineAsync("milterhost: not starting: the configuration has errors").ConfigureAwait(false);
                ConfigErrors.Print(error, result.Errors, path);
                return 1;
            }
            return await (daemon ?? RunDaemonAsync)(result.Config, parseResult, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    // ======================================================================================
    // HOOK (lead): the daemon starts here. Everything above has already loaded and validated
    // the configuration; this method gets the checked config and must run the listener, the
    // filter chain, logging, signals and privilege drop until cancellationToken fires (System.
    // CommandLine cancels it on SIGINT/SIGTERM), then return the exit status. Either replace
    // this body, or pass the daemon to RunCommand.Create(...) in Program.cs.
    // Note: System.CommandLine waits only InvocationConfiguration.ProcessTerminationTimeout
    // (2 s by default) after SIGTERM before returning; set it from limits.shutdown_grace, or to
    // null if the generic host handles the signals itself.
    // ======================================================================================
    private static async Task<int> RunDaemonAsync(LoadedConfig config, ParseResult parseResult, CancellationToken cancellationToken)
    {
        await parseResult.InvocationConfiguration.Error.WriteLineAsync(
            $"milterhost: configuration {config.Path} is valid, but the daemon is not built into this version yet").ConfigureAwait(false);
        return 1;
    }
}
