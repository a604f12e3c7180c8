using System.Security.Cryptography;
using Milter.TestSupport.Internal;

namespace Milter.TestSupport;

/// <summary>
/// Account names for tests that must not collide with the machine's own: a name checked to be
/// unknown to NSS, or a system account created under a fresh name and deleted again.
/// </summary>
public static class TestAccounts
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <paramref name="prefix"/> plus 8 random hex digits, which <c>getent passwd</c> does not know
    /// (so neither sendmail nor milterhost finds such a local user).
    /// </summary>
    public static string UnusedName(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var name = prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
            if (!Exists(name))
            {
                return name;
            }
        }

        throw new InvalidOperationException($"10 random names starting with '{prefix}' are all taken on this machine.");
    }

    /// <summary>True when NSS knows <paramref name="name"/> as a user (<c>getent passwd</c>).</summary>
    public static bool Exists(string name)
    {
        var result = ProcessRunner.Run("getent", ["passwd", name], CommandTimeout);
        // getent: 0 found, 2 not found; anything else is a failure to answer.
        return result.ExitCode switch
        {
            0 => true,
            2 => false,
            _ => throw new InvalidOperationException(result.Describe()),
        };
    }

    /// <summary>
    /// Creates a system account (no home, no login shell, its own group) under an unused name
    /// starting with <paramref name="prefix"/>; disposing it deletes the account and its group.
    /// Needs root.
    /// </summary>
    public static async Task<TestAccount> CreateAsync(string prefix)
    {
        if (!LibC.IsRoot)
        {
            throw new InvalidOperationException("Creating a test account needs root.");
        }

        var name = UnusedName(prefix);
        (await RunAsync("useradd", "-r", "-M", "-U", "-s", "/usr/sbin/nologin", name).ConfigureAwait(false)).EnsureSuccess();
        var uid = (await RunAsync("id", "-u", name).ConfigureAwait(false)).EnsureSuccess().StandardOutput.Trim();
        var gid = (await RunAsync("id", "-g", name).ConfigureAwait(false)).EnsureSuccess().StandardOutput.Trim();
        return new TestAccount(name, uid, gid);
    }

    internal static Task<ProcessResult> RunAsync(string program, params string[] arguments) =>
        ProcessRunner.RunAsync(program, arguments, CommandTimeout, TimeProvider.System, CancellationToken.None);
}

/// <summary>A system account made by <see cref="TestAccounts.CreateAsync"/>; deleted on dispose.</summary>
public sealed record TestAccount(string Name, string Uid, string Gid) : IAsyncDisposable
{
    public async ValueTask DisposeAsync() =>
        (await TestAccounts.RunAsync("userdel", Name).ConfigureAwait(false)).EnsureSuccess();
}
