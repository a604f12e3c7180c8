using System.Globalization;

namespace Milter.Fuzz;

/// <summary>The seed corpus (from the real captures) and the replay of saved inputs.</summary>
internal static class Corpus
{
    private const string MtaPrefix = "mta> ";

    /// <summary>
    /// Each capture's <c>mta&gt;</c> lines (hex frames, in wire order) become one binary input: the
    /// exact bytes sendmail or Postfix wrote on that connection.
    /// </summary>
    public static int Seed(string capturesDirectory, string outputDirectory, TextWriter report)
    {
        Directory.CreateDirectory(outputDirectory);
        var count = 0;
        foreach (var capture in Directory.EnumerateFiles(capturesDirectory, "*.txt").Order(StringComparer.Ordinal))
        {
            using var bytes = new MemoryStream();
            foreach (var line in File.ReadLines(capture))
            {
                if (line.StartsWith(MtaPrefix, StringComparison.Ordinal))
                    bytes.Write(Convert.FromHexString(line.AsSpan(MtaPrefix.Length).Trim()));
            }
            if (bytes.Length == 0)
                continue;
            var name = Path.Combine(outputDirectory, Path.GetFileNameWithoutExtension(capture) + ".bin");
            File.WriteAllBytes(name, bytes.ToArray());
            report.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seed {name}: {bytes.Length} bytes"));
            count++;
        }
        return count > 0 ? 0 : 1;
    }

    /// <summary>Runs every file once through the target; prints each failure. 0 when all pass.</summary>
    public static int Replay(IEnumerable<string> paths, TextWriter report)
    {
        var files = paths.SelectMany(p => Directory.Exists(p)
            ? Directory.EnumerateFiles(p).Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith(".md", StringComparison.Ordinal))
            : [p]).Order(StringComparer.Ordinal).ToList();
        var failed = 0;
        foreach (var file in files)
        {
            try
            {
                SessionTarget.Run(File.ReadAllBytes(file));
            }
            catch (FuzzFinding e)
            {
                failed++;
                report.WriteLine($"FAIL {file}: {e.Message}: {e.InnerException}");
            }
        }
        report.WriteLine(string.Create(CultureInfo.InvariantCulture, $"replayed {files.Count} input(s): {files.Count - failed} passed, {failed} failed"));
        return failed == 0 ? 0 : 1;
    }
}
