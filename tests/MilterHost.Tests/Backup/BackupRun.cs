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

    public async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        var root = new RootCommand("test") { BackupMailCommand.Create(Time) };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await root.Parse(["backup-mail", "--spool", Spool, "--dest", Destination, .. args])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    public void Dispose() => _directory.Dispose();
}
