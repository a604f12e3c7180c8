using System.Diagnostics;

namespace MilterHost.Tests;

/// <summary>The built milterhost binary as a child process, the way a postmaster or systemd runs it.</summary>
public sealed class BinaryTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);

    private readonly ConfigDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Check_config_of_a_broken_file_exits_1_with_the_error_on_stderr()
    {
        var path = _dir.Write("milterhost.yaml", "relay:\n  allow_clients: [10.0.0.0/33]\n");
        var (exit, stdout, stderr) = await RunAsync("check-config", "--config", path);

        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Equal(
            $"{path}:2:19: relay.allow_clients#1: '10.0.0.0/33' has a bad prefix length; it must be 0-32 for IPv4\n1 error in {path}\n",
            stderr);
    }

    [Fact]
    public async Task Check_config_of_the_example_exits_0()
    {
        var (exit, stdout, stderr) = await RunAsync("check-config", "--config", RepositoryRoot.Combine("examples", "milterhost.yaml"));
        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        Assert.Contains($"listen: unix:{RepositoryRoot.Combine("var", "milter.sock")}\n", stdout, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        // The test project references MilterHost, so the build copies milterhost.dll with its
        // runtimeconfig and deps beside the tests.
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "milterhost.dll"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        using var cts = new CancellationTokenSource(Timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
