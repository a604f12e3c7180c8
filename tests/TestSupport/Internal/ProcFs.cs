using System.Globalization;

namespace Milter.TestSupport.Internal;

/// <summary>Reads process and socket state from /proc, so readiness checks need no connection that would show up in the MTA's log.</summary>
internal static class ProcFs
{
    private const string ListenState = "0A";

    /// <summary>True while the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The state follows the parenthesised command name, which may itself hold spaces or parentheses.
            var afterName = stat.LastIndexOf(')');
            return afterName < 0 || afterName + 2 >= stat.Length || stat[afterName + 2] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>The live processes whose parent is <paramref name="parent"/>.</summary>
    public static IEnumerable<int> Children(int parent)
    {
        foreach (var pid in Pids())
        {
            string stat;
            try
            {
                stat = File.ReadAllText($"/proc/{pid}/stat");
            }
            catch (IOException)
            {
                continue; // it ended while we looked
            }

            // "pid (comm) state ppid ...": the fields after the last ')' are free of the name's spaces.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && fields[0] != "Z" && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ppid) && ppid == parent)
            {
                yield return pid;
            }
        }
    }

    /// <summary>
    /// The live processes whose command name starts with <paramref name="command"/> and whose working
    /// folder lies in <paramref name="folder"/> (also once that folder is deleted).
    /// </summary>
    public static IEnumerable<int> WorkingIn(string folder, string command)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        foreach (var pid in Pids())
        {
            string cwd, comm;
            try
            {
                comm = File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n');
                cwd = new FileInfo($"/proc/{pid}/cwd").LinkTarget ?? "";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // it ended while we looked, or is not ours to see
            }

            if (cwd.EndsWith(" (deleted)", StringComparison.Ordinal))
            {
                cwd = cwd[..^" (deleted)".Length];
            }

            if (comm.StartsWith(command, StringComparison.Ordinal) && (cwd == root || cwd.StartsWith(root + "/", StringComparison.Ordinal)) && IsAlive(pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>Every process id in /proc.</summary>
    private static IEnumerable<int> Pids()
    {
        foreach (var folder in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>The process's command line (its title, for sendmail), arguments joined by spaces; empty once it has ended.</summary>
    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>The TCP ports the process listens on, per address family ("tcp" or "tcp6").</summary>
    public static IReadOnlySet<(string Family, int Port)> ListeningPorts(int pid)
    {
        var inodes = SocketInodes(pid);
        var result = new HashSet<(string, int)>();
        if (inodes.Count == 0)
        {
            return result;
        }

        foreach (var family in new[] { "tcp", "tcp6" })
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines($"/proc/{pid}/net/{family}");
            }
            catch (IOException)
            {
                continue;
            }

            foreach (var line in lines.Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && fields[3] == ListenState && inodes.Contains(fields[9]))
                {
                    var local = fields[1];
                    var port = int.Parse(local.AsSpan(local.LastIndexOf(':') + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    result.Add((family, port));
                }
            }
        }

        return result;
    }

    private static HashSet<string> SocketInodes(int pid)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
            {
                var target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    inodes.Add(target["socket:[".Length..^1]);
                }
            }
        }
        catch (IOException)
        {
            // The process left while we looked: it listens on nothing.
        }

        return inodes;
    }
}
