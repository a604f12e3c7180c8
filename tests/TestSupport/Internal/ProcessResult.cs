namespace Milter.TestSupport.Internal;

/// <summary>What a finished child process left behind.</summary>
internal sealed record ProcessResult(string Command, int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>A one-paragraph account for exception messages.</summary>
    public string Describe() =>
        $"`{Command}` exited with {ExitCode}.{Environment.NewLine}stdout: {StandardOutput.Trim()}{Environment.NewLine}stderr: {StandardError.Trim()}";

    /// <summary>Throws when the exit code is not 0, naming the command and its output.</summary>
    public ProcessResult EnsureSuccess() =>
        ExitCode == 0 ? this : throw new InvalidOperationException(Describe());
}
