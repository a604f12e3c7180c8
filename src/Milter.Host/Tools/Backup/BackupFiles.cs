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
