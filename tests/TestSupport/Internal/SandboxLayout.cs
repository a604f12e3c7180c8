namespace Milter.TestSupport.Internal;

/// <summary>Where each file of a sandboxed sendmail lives.</summary>
internal sealed record SandboxLayout(string Root)
{
    public string Mc => Path.Combine(Root, "sendmail.mc");
    public string Cf => Path.Combine(Root, "sendmail.cf");
    public string ServiceSwitch => Path.Combine(Root, "service.switch");
    public string Queue => Path.Combine(Root, "queue");
    public string PidFile => Path.Combine(Root, "sendmail.pid");
    public string StatusFile => Path.Combine(Root, "sendmail.st");
    public string HostStatus => Path.Combine(Root, "hoststatus");
    public string Aliases => Path.Combine(Root, "aliases");
    public string LocalHostNames => Path.Combine(Root, "local-host-names");
    public string Access => Path.Combine(Root, "access");
    public string DeadLetter => Path.Combine(Root, "dead.letter");
}
