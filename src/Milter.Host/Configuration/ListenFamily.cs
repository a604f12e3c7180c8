namespace MilterHost.Configuration;

/// <summary>The socket kinds of sendmail's <c>S=</c> milter equate.</summary>
public enum ListenFamily { Unix, Inet, Inet6 }
