using System.CommandLine;
using MilterHost.Chain;
using MilterHost.Configuration;

namespace MilterHost.Commands;

/// <summary><c>milterhost check-config [--config PATH]</c>: validate and print the effective configuration.</summary>
public static class CheckConfigCommand
{
    /// <param name="setup">The executable's own filters; null: the built-in ones.</param>
    public static Command Create(MilterHostSetup? setup = null)
    {
        setup ??= MilterHostSetup.BuiltIn;
        var config = ConfigOption.Create();
        var command = new Command("check-config",
            "Check the configuration file and print it with every default filled in and every path made absolute, the sections of this executable's own filters included. "
            + "Exit status 0 when it is valid; a setting that is valid but risky (relay control switched off or in monitor mode, listen: "
            + "on a non-loopback address, status.listen without status.token, an empty local_domains under relay control) is printed as a 'file:line:column: warning: ...' line on stderr. "
            + "Otherwise 1, with one 'file:line:column: message' line per error on stderr. Besides the file itself it checks what run would refuse "
            + "at start: the accounts user: and socket.group name, and the files the filters read (local_domains files, aliases, virtusertable), "
            + "opened as the user running check-config; a line of those files that run would skip is a 'file:line: warning: ...' line.")
        {
            config,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var path = parseResult.GetValue(config) ?? ConfigLoader.DefaultPath;
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            var result = ConfigLoader.Load(path, setup.Catalog);
            if (!result.Success)
            {
                ConfigErrors.Print(error, result.Errors, path);
                return 1;
            }
            var (problems, sourceWarnings) = await EnvironmentChecks.RunAsync(result.Config, setup, cancellationToken).ConfigureAwait(false);
            if (problems.Count > 0)
            {
                ConfigErrors.Print(error, problems, path);
                return 1;
            }
            foreach (var warning in ConfigWarnings.Of(result.Config).Concat(sourceWarnings))
                error.WriteLine(warning);
            output.WriteLine($"# milterhost: effective configuration of {result.Config.Path}");
            output.WriteLine("# (defaults filled in, paths absolute, passwords and tokens shown as ********)");
            output.Write(EffectiveConfig.ToYaml(result.Config, setup.Catalog));
            return 0;
        });
        return command;
    }
}
