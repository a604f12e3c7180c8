using System.CommandLine;
using MilterHost.Chain;
using MilterHost.Commands;

namespace MilterHost;

/// <summary>
/// The command line of a <c>milterhost</c> executable, one subcommand per job: the stock one
/// (src/MilterHost) and one with filters of its own call <see cref="RunAsync"/> from their <c>Main</c>.
/// </summary>
public static class MilterHostCli
{
    /// <summary>
    /// Runs the command line of a milterhost executable: the stock one, or one built with filters of
    /// its own (docs/writing-a-filter.md), which passes them in <paramref name="setup"/>.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, MilterHostSetup setup)
    {
        var parse = Parse(CreateRootCommand(setup), args);
        // The daemon: on the main thread, which lives as long as the process, so that from here on it can take the signals.
        if (parse.CommandResult.Command.Name == "run")
        {
            var blocked = Native.SignalMask.UnblockStopAndReload();
            if (blocked.Count > 0)
                await Console.Error.WriteLineAsync($"milterhost: note: the parent process had blocked {string.Join(", ", blocked)}; unblocked, so that stop and reload work");
            var ignored = Native.SignalMask.StopIgnoringStopAndReload();
            if (ignored.Count > 0)
                await Console.Error.WriteLineAsync($"milterhost: note: the parent process (nohup, a background job) had set {string.Join(", ", ignored)} to be ignored; handled again, so that stop and reload work");
        }
        // The daemon handles SIGTERM/SIGINT itself (stop accepting, drain, exit 0); System.CommandLine
        // must not race it with its own termination timeout. Every other command is cancelled by them
        // and given that long to finish: backup-mail and restore-mail take their locks in using blocks,
        // so a stopped run leaves no dot-lock in the spool (the process exiting at once would).
        // What the commands print passes through PrintableWriter: stored addresses and DNS answers are the client's words.
        var exit = await InvokeAsync(parse, new InvocationConfiguration
        {
            ProcessTerminationTimeout = parse.CommandResult.Command.Name == "run" ? null : TimeSpan.FromSeconds(10),
            Output = new Tools.PrintableWriter(Console.Out),
            Error = new Tools.PrintableWriter(Console.Error),
        });
        // relay-test's status 1 means "open relay": a mistyped command line must not read as one.
        return parse.Errors.Count > 0 && parse.CommandResult.Command.Name == RelayTestCommand.Name ? RelayTestCommand.NotTested : exit;
    }

    /// <summary>
    /// Reads a command line. A mistake (a bad value, a misspelt option) is answered with the error
    /// and a pointer to <c>--help</c>, not with the whole help under it, where the error scrolled away.
    /// </summary>
    public static ParseResult Parse(RootCommand root, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(root);
        var parse = root.Parse(args, CreateParserConfiguration());
        if (parse.Action is System.CommandLine.Invocation.ParseErrorAction errors)
            errors.ShowHelp = false;
        return parse;
    }

    /// <summary>Runs what <see cref="Parse"/> read; after a mistake, says where the usage is.</summary>
    public static async Task<int> InvokeAsync(ParseResult parse, InvocationConfiguration io)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(io);
        var exit = await parse.InvokeAsync(io).ConfigureAwait(false);
        if (parse.Errors.Count > 0)
        {
            var words = new List<string> { "--help" };
            for (var result = parse.CommandResult; result is not null && result.Command is not RootCommand; result = result.Parent as System.CommandLine.Parsing.CommandResult)
                words.Insert(0, result.Command.Name);
            await (io.Error ?? Console.Error).WriteLineAsync($"Run 'milterhost {string.Join(' ', words)}' for the usage.").ConfigureAwait(false);
        }
        return exit;
    }

    /// <summary>
    /// How the command line is read: no response files, since <c>@domain</c> is how mail people
    /// write a domain (<c>greylist list --sender @example.org</c>).
    /// </summary>
    public static ParserConfiguration CreateParserConfiguration() => new() { ResponseFileTokenReplacer = null };

    /// <summary>The command tree; a new subcommand is one line here.</summary>
    public static RootCommand CreateRootCommand(MilterHostSetup? setup = null) =>
        new("milterhost: a sendmail/Postfix mail filter (milter) that refuses open relaying (and, with relay.local_users, "
            + "relaying by local users not listed), banned senders, unknown recipients and unproven first delivery "
            + "attempts (greylisting, marked with X-Greylist), and optionally SPF failures. Configured by one YAML file.")
        {
            RunCommand.Create(setup: setup),
            CheckConfigCommand.Create(setup),
            SimulateCommand.Create(setup: setup),
            LogScanCommand.Create(setup ?? MilterHostSetup.BuiltIn),
            BackupMailCommand.Create(),
            RestoreMailCommand.Create(),
            StatsCommand.Create(TimeProvider.System, setup),
            RelayTestCommand.Create(),
            GreylistCommand.Create(TimeProvider.System, setup),
            BanCommand.Create(TimeProvider.System, setup),
        };
}
