using System.Diagnostics;
using System.Globalization;

namespace Milter.TestSupport;

/// <summary>Signals to other processes, by name, through kill(1): one place for every test that sends one.</summary>
public static class ProcessSignals
{
    /// <summary>Sends <paramref name="name"/> (HUP, TERM, INT, KILL, STOP, CONT) to each of <paramref name="pids"/>.</summary>
    /// <exception cref="InvalidOperationException">kill(1) failed (a process is gone, or not ours).</exception>
    public static void Send(string name, params IEnumerable<int> pids)
    {
        string[] arguments = ["-s", name, .. pids.Select(p => p.ToString(CultureInfo.InvariantCulture))];
        using var kill = Process.Start(new ProcessStartInfo("kill", arguments) { UseShellExecute = false })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0)
            throw new InvalidOperationException($"kill {string.Join(' ', arguments)} failed");
    }
}
