using MilterHost.Native;
using static Tmds.Linux.LibC;

namespace MilterHost.Tools.Backup;

/// <summary>Backups hold everyone's mail: folders 0700, files 0600, whatever the umask.</summary>
internal static class BackupFiles
{
    private const UnixFileMode PrivateFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The file a user's mailbox is backed up to in a dated folder; restore takes no other name.</summary>
    public static string MailboxFileOf(string user) => user + ".mbox.gz";

    // milterhost runs on Linux only; the guards keep the platform analyzer content without marking every caller.
    public static void CreateFolder(string path)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException();
        Directory.CreateDirectory(path, PrivateFolder);
    }

    /// <summary>
    /// Makes the folder of a run that starts at <paramref name="started"/> in <paramref name="destination"/>,
    /// under the first name <see cref="BackupRotation.RunFolderNames"/> gives that nothing has yet. The
    /// folder is new (mkdir, not "create unless there"): a run never writes where an earlier run, or a
    /// run at the same moment, wrote its copies.
    /// </summary>
    /// <exception cref="IOException">The folder could not be made, or every name is taken.</exception>
    public static string CreateRunFolder(string destination, DateTimeOffset started)
    {
        foreach (var name in BackupRotation.RunFolderNames(started))
        {
            var path = Path.Combine(destination, name);
            var errno = Posix.MakeDirectory(path, (ushort)PrivateFolder);
            if (errno == 0)
                return path;
            if (errno != EEXIST)
                throw new IOException($"cannot create {path}: {Posix.Message(errno)}");
        }
        throw new IOException($"cannot create a folder for this run in {destination}: every name for {started:yyyy-MM-dd HH:mm:ss} is taken");
    }

    public static FileStream CreatePrivate(string path)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException();
        return new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = PrivateFile,
        });
    }
}
