namespace BufferActors.Tests;

/// <summary>Files of the repository the tests read (docs checked against the code), found above the test assembly.</summary>
internal static class RepositoryFiles
{
    /// <summary>The path of <paramref name="relative"/> (e.g. <c>docs/simulator.md</c>) in the nearest folder above the tests that has it.</summary>
    public static string Path(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException(relative);
    }
}
