using System.Globalization;
using System.Text.RegularExpressions;

namespace Milter.TestSupport.Internal;

/// <summary>
/// Per-run directories under /var/lib/milterhost-test. Not /tmp: sendmail refuses maps and class
/// files below a world-writable directory. Each name starts with the creating process id, so a
/// later run can tell the leftovers of a run that was killed and clean them up.
/// </summary>
internal static partial class Sandbox
{
    public const string Root = "/var/lib/milterhost-test";

    public static string Create()
    {
        Directory.CreateDirectory(Root);
        UnixFiles.SetMode(Root, UnixFiles.Directory);
        ReapAbandoned();
        var path = Path.Combine(Root, $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(path);
        UnixFiles.SetMode(path, UnixFiles.Directory);
        return path;
    }

    /// <summary>Stops the sendmail of a sandbox by its pid file, then its whole process group.</summary>
    public static bool SignalSendmail(string pidFile, int signal)
    {
        if (ReadPid(pidFile) is not { } pid || !ProcFs.IsAlive(pid))
        {
            return false;
        }

        // The daemon leads its own process group; its per-connection children belong to it.
        return LibC.Signal(-pid, signal) || LibC.Signal(pid, signal);
    }

    public static int? ReadPid(string pidFile)
    {
        var first = LibC.ReadUnlocked(pidFile)?.Split('\n')[0];
        return int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 1 ? pid : null;
    }

    private static void ReapAbandoned()
    {
        foreach (var directory in Directory.EnumerateDirectories(Root))
        {
            var match = OwnerPattern().Match(Path.GetFileName(directory));
            if (!match.Success || ProcFs.IsAlive(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)))
            {
                continue;
            }

            // Only a process that really is sendmail is stopped: the pid may have been reused.
            var pidFile = Path.Combine(directory, "sendmail.pid");
            if (ReadPid(pidFile) is { } pid && IsSendmail(pid))
            {
                SignalSendmail(pidFile, LibC.SIGKILL);
            }

            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Another run is reaping it at the same moment.
            }
        }
    }

    private static bool IsSendmail(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/exe").LinkTarget?.EndsWith("/sendmail", StringComparison.Ordinal) == true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    [GeneratedRegex("^([0-9]+)-[0-9a-f]+$")]
    private static partial Regex OwnerPattern();
}
