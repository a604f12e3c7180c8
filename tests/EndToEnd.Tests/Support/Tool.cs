using System.ComponentModel;
using System.Diagnostics;

namespace EndToEnd.Tests.Support;

/// <summary>What a finished command printed and returned.</summary>
internal sealed record ToolResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Everything a failing assertion should show.</summary>
    public override string ToString() => $"`{Command}` exited {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// Runs m4, makemap, sendmail and the packaging scripts to completion with a time bound.
/// (TestSupport's process runner does the same once the harness branch lands; this one is kept
/// to what these tests need.)
/// </summary>
internal static class Tool
{
    public static async Task<ToolResult> RunAsync(
        string fileName, IEnumerable<string> arguments, TimeSpan timeout, string? stdin = null, string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var command = string.Join(' ', startInfo.ArgumentList.Prepend(fileName));
        using var process = Start(startInfo, command);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{command}` did not finish within {timeout.TotalSeconds:0} s.\n{await stdout}\n{await stderr}");
        }

        return new ToolResult(command, process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs and insists on exit code 0, showing the output otherwise.</summary>
    public static async Task<ToolResult> RunCheckedAsync(
        string fileName, IEnumerable<string> arguments, TimeSpan timeout, string? stdin = null, string? workingDirectory = null)
    {
        var result = await RunAsync(fileName, arguments, timeout, stdin, workingDirectory);
        return result.ExitCode == 0 ? result : throw new InvalidOperationException(result.ToString());
    }

    public static Process Start(ProcessStartInfo startInfo, string command)
    {
        try
        {
            return Process.Start(startInfo) ?? throw new InvalidOperationException($"`{command}` did not start.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"Cannot run `{startInfo.FileName}` ({e.Message}): install sendmail-bin, sendmail-cf, m4 (and rpm for packaging) with apt.", e);
        }
    }
}
