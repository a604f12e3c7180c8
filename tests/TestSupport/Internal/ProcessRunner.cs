using System.ComponentModel;
using System.Diagnostics;

namespace Milter.TestSupport.Internal;

/// <summary>Runs a child process to completion with a time bound; the only place test support starts processes.</summary>
internal static class ProcessRunner
{
    public static ProcessStartInfo StartInfo(string fileName, IEnumerable<string> arguments)
    {
        var startInfo = new ProcessStartInfo(fileName) { UseShellExecute = false };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        return startInfo;
    }

    public static Task<ProcessResult> RunAsync(
        string fileName, IEnumerable<string> arguments, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken) =>
        RunAsync(StartInfo(fileName, arguments), timeout, time, cancellationToken);

    public static async Task<ProcessResult> RunAsync(
        ProcessStartInfo startInfo, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        using var process = Start(startInfo);
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var deadline = new Deadline(timeout, time, cancellationToken);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException(
                $"`{Describe(startInfo)}` did not finish within {timeout.TotalSeconds:0.#} s and was killed. Output so far: {await stdout} {await stderr}");
        }

        return new ProcessResult(Describe(startInfo), process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Synchronous variant for one-off setup steps that have no caller to await them.</summary>
    public static ProcessResult Run(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var startInfo = StartInfo(fileName, arguments);
        using var process = Start(startInfo);
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{Describe(startInfo)}` did not finish within {timeout.TotalSeconds:0.#} s and was killed.");
        }

        return new ProcessResult(Describe(startInfo), process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    public static string Describe(ProcessStartInfo startInfo) =>
        string.Join(' ', new[] { startInfo.FileName }.Concat(startInfo.ArgumentList.Select(Quote)));

    private static Process Start(ProcessStartInfo startInfo)
    {
        startInfo.UseShellExecute = false;
        startInfo.RedirectStandardInput = true;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        try
        {
            var process = Process.Start(startInfo)
                ?? throw new InvalidOperationException($"`{Describe(startInfo)}` did not start.");
            process.StandardInput.Close();
            return process;
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"Cannot run `{startInfo.FileName}` ({e.Message}); is the package that provides it installed?", e);
        }
    }

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@,+".Contains(c))
            ? argument
            : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
