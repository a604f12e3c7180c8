using System.CommandLine;
using MilterHost.Commands;

namespace MilterHost.Tests.Backup;

/// <summary>A spool and a destination in a temp directory, and backup-mail run over them.</summary>
internal sealed class BackupRun : IDisposable
{
    private readonly TempDirectory _directory = new();

    public BackupRun(TimeProvider? time = null)
    {
        Time = time ?? TimeProvider.System;
        Spool = _directory.Combine("spool");
        Destination = _directory.Combine("backups");
        Directory.CreateDirectory(Spool);
    }

    public TimeProvider Time { get; }

    public string Spool { get; }

    public string Destination { get; }

    public string Mailbox(string user, string content)
    {
        var path = Path.Combine(Spool, user);
        File.WriteAllText(path, content);
        return path;
    }

    public string Today => Time.GetLocalNow().ToString("yyyy-MM-dd");

    public string BackupOf(string user, string? day = null) => Path.Combine(Destination, day ?? Today, user + ".mbox.gz");

    /// <summary>The folder a run wrote, from its "Backed up N of M mailbox(es) to FOLDER." line.</summary>
    public static string FolderOf(string output)
    {
        var line = output.Split('\n').Single(l => l.StartsWith("Backed up ", StringComparison.Ordinal));
        return line[(line.IndexOf(" to ", StringComparison.Ordinal) + 4)..^1];
    }

    /// <summary><c>backup-mail --spool SPOOL --dest DESTINATION ARGS</c>.</summary>
    public Task<(int Exit, string Output, string Error)> RunAsync(params string[] args) =>
        InvokeAsync(["backup-mail", "--spool", Spool, "--dest", Destination, .. args]);

    /// <summary><c>restore-mail --spool SPOOL --from DESTINATION/DAY ARGS</c>, from today's backup unless told.</summary>
    public Task<(int Exit, string Output, string Error)> RestoreAsync(params string[] args) =>
        InvokeAsync(["restore-mail", "--spool", Spool, "--from", Path.Combine(Destination, Today), .. args]);

    private async Task<(int Exit, string Output, string Error)> InvokeAsync(string[] args)
    {
        var root = new RootCommand("test") { BackupMailCommand.Create(Time), RestoreMailCommand.Create(Time) };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    public void Dispose() => _directory.Dispose();
}
