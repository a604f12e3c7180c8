using Milter.TestSupport.Internal;

namespace Milter.TestSupport;

/// <summary>
/// Makes sure the Debian packages an end-to-end test needs are present, so a fresh CI machine
/// sets itself up on the first run. Also gives the host a fully qualified name in /etc/hosts,
/// without which sendmail waits minutes on DNS timeouts.
/// </summary>
public static class AptPackages
{
    private const string HostsFile = "/etc/hosts";
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Installs whichever of <paramref name="packages"/> dpkg does not report as installed
    /// (one <c>apt-get update</c>, then one non-interactive <c>apt-get install -y</c>) and
    /// ensures /etc/hosts maps <c>$(hostname).localdomain</c>.
    /// </summary>
    /// <returns>The packages that had to be installed; empty when all were present.</returns>
    /// <exception cref="InvalidOperationException">
    /// Something is missing and the process is not root, or apt failed.
    /// </exception>
    public static IReadOnlyList<string> EnsureInstalled(params string[] packages)
    {
        ArgumentNullException.ThrowIfNull(packages);
        foreach (var package in packages)
        {
            if (string.IsNullOrWhiteSpace(package) || package.StartsWith('-') || package.Any(char.IsWhiteSpace))
            {
                throw new ArgumentException($"'{package}' is not a Debian package name.", nameof(packages));
            }
        }

        EnsureHostName();
        var missing = packages.Distinct(StringComparer.Ordinal).Where(p => !IsInstalled(p)).ToArray();
        if (missing.Length == 0)
        {
            return [];
        }

        if (!LibC.IsRoot)
        {
            throw new InvalidOperationException(
                $"The tests need the Debian packages {string.Join(", ", missing)}, which are not installed, and only root can install them. " +
                $"Run: sudo apt-get install -y {string.Join(' ', missing)}");
        }

        // Several test runs may install at once: wait for the dpkg lock rather than failing on it.
        string[] lockWait = ["-o", "DPkg::Lock::Timeout=300"];
        RunApt([.. lockWait, "update"]);
        RunApt([.. lockWait, "install", "-y", "--no-install-recommends", .. missing]);
        var stillMissing = missing.Where(p => !IsInstalled(p)).ToArray();
        return stillMissing.Length == 0
            ? missing
            : throw new InvalidOperationException($"apt-get install finished but {string.Join(", ", stillMissing)} is still not installed.");
    }

    private static bool IsInstalled(string package)
    {
        var result = ProcessRunner.Run("dpkg", ["-s", package], QueryTimeout);
        // A removed package keeps a record ("deinstall ok config-files") and still makes dpkg -s succeed.
        return result.ExitCode == 0 && result.StandardOutput.Contains("Status: install ok installed", StringComparison.Ordinal);
    }

    private static void RunApt(string[] arguments)
    {
        var result = ProcessRunner.Run("env", ["DEBIAN_FRONTEND=noninteractive", "apt-get", .. arguments], InstallTimeout);
        result.EnsureSuccess();
    }

    private static void EnsureHostName()
    {
        var host = Environment.MachineName;
        var fullName = host.Contains('.', StringComparison.Ordinal) ? host : host + ".localdomain";
        if (HostsMaps(File.ReadAllText(HostsFile), fullName))
        {
            return;
        }

        if (!LibC.IsRoot)
        {
            throw new InvalidOperationException(
                $"{HostsFile} has no entry for {fullName}; sendmail would hang on DNS. Add as root: 127.0.0.1 {fullName} {host}");
        }

        // FileShare.None takes an advisory lock, so two runs cannot both append.
        using var stream = new FileStream(HostsFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        using var reader = new StreamReader(stream, leaveOpen: true);
        var text = reader.ReadToEnd();
        if (HostsMaps(text, fullName))
        {
            return;
        }

        var separator = text.Length > 0 && !text.EndsWith('\n') ? "\n" : string.Empty;
        using var writer = new StreamWriter(stream);
        writer.Write($"{separator}127.0.0.1 {fullName} {host}\n");
    }

    private static bool HostsMaps(string hostsText, string fullName) =>
        hostsText.Split('\n')
            .Select(line => line.Split('#')[0].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
            .Any(fields => fields.Length > 1 && fields.Skip(1).Contains(fullName, StringComparer.OrdinalIgnoreCase));
}
