using System.Runtime.Versioning;

// milterhost runs on Linux only (Tmds.LibC, Unix sockets, fcntl locks, file modes).
[assembly: SupportedOSPlatform("linux")]
