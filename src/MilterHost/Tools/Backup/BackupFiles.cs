namespace MilterHost.Tools.Backup;

/// <summary>Backups hold everyone's mail: folders 0700, files 0600, whatever the umask.</summary>
internal static class BackupFiles
{
    private const UnixFileMode PrivateFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void CreateFolder(string path) => Directory.CreateDirectory(path, PrivateFolder);

    public static FileStream CreatePrivate(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.Create,
        Access = FileAccess.Write,
        Share = FileShare.None,
        UnixCreateMode = PrivateFile,
    });
}
