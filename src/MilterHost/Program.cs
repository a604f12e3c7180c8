using System.CommandLine;
using MilterHost.Commands;

namespace MilterHost;

/// <summary>The <c>milterhost</c> executable: one binary, one subcommand per job.</summary>
public static class Program
{
    public static Task<int> Main(string[] args) =>
        // The daemon handles SIGTERM/SIGINT itself (stop accepting, drain, exit 0); System.CommandLine
        // must not race it with its own termination timeout.
        CreateRootCommand().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

    /// <summary>The command tree; a new subcommand is one line here.</summary>
    public static RootCommand CreateRootCommand() =>
        new("milterhost: a sendmail/Postfix mail filter (milter) that refuses open relaying, banned senders, "
            + "unknown recipients and unproven first delivery attempts (greylisting). Configured by one YAML file.")
        {
            RunCommand.Create(),
            CheckConfigCommand.Create(),
            SimulateCommand.Create(),
            LogScanCommand.Create(),
            BackupMailCommand.Create(),
            StatsCommand.Create(),
        };
}
