using System.Diagnostics;

namespace BufferActors.Tests;

/// <summary>
/// What some tests need of the machine beyond the .NET SDK, each with the Debian package that brings it. A test that
/// needs what is absent reports itself skipped with a reason naming the package (it is a <c>SkippableFact</c> or
/// <c>SkippableTheory</c>, so the run's count of skips shows it); with <see cref="RequireAllVariable"/> set to 1, as
/// <c>.ci/run</c> sets it, the same test fails instead, so CI never passes by skipping.
/// </summary>
internal static class Needs
{
    /// <summary>Set to 1: every absence is a failure.</summary>
    public const string RequireAllVariable = "BUFFERACTORS_REQUIRE_ALL";

    private static readonly Lazy<bool> HasGcc = new(() => Runs("gcc", "--version"));
    private static readonly Lazy<bool> HasMake = new(() => Runs("make", "--version"));
    private static readonly Lazy<bool> HasChromium = new(() => Runs(ChromiumPath, "--version"));
    private static readonly Lazy<bool> HasPostgres = new(() =>
        Environment.GetEnvironmentVariable(Persistence.PostgresFixture.Variable) is { Length: > 0 }
        || (Directory.Exists("/usr/lib/postgresql") && Directory.EnumerateDirectories("/usr/lib/postgresql")
            .Any(v => Runs(Path.Combine(v, "bin", "postgres"), "--version"))));

    /// <summary>Where the Chromium tests look for it.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>A C compiler and the C library's headers.</summary>
    public static void Gcc() => Require(HasGcc.Value && File.Exists("/usr/include/stdio.h"), "a C compiler (gcc) and the C library's headers", "gcc libc6-dev");

    /// <summary>The kernel's UAPI headers, &lt;xen/gntdev.h&gt; among them.</summary>
    public static void KernelHeaders() => Require(File.Exists("/usr/include/xen/gntdev.h"), "the kernel's UAPI headers (<xen/gntdev.h>)", "linux-libc-dev");

    /// <summary>make, which builds the C client with its own Makefile.</summary>
    public static void Make() => Require(HasMake.Value, "make", "make");

    /// <summary>Headless Chromium, which renders the replay page.</summary>
    public static void Chromium() => Require(HasChromium.Value, $"Chromium ({ChromiumPath})", "chromium");

    /// <summary>A PostgreSQL server: one named by BUFFERACTORS_POSTGRES, or the binaries to start a throwaway one.</summary>
    public static void Postgres() => Require(HasPostgres.Value, $"a PostgreSQL server ({Persistence.PostgresFixture.Variable}, or the binaries under /usr/lib/postgresql)", "postgresql");

    /// <summary>Skips (or, with <see cref="RequireAllVariable"/>=1, fails) the calling test unless <paramref name="present"/>.</summary>
    private static void Require(bool present, string what, string packages)
    {
        if (present) return;
        string reason = $"needs {what}: apt-get install {packages}";
        if (Environment.GetEnvironmentVariable(RequireAllVariable) == "1")
            throw new Xunit.Sdk.XunitException($"{reason} ({RequireAllVariable}=1 makes this a failure, not a skip)");
        throw new SkipException(reason);
    }

    private static bool Runs(string program, string argument)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(program, [argument]) { RedirectStandardOutput = true, RedirectStandardError = true });
            if (process is null) return false;
            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            return process.WaitForExit(30_000) && process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not found, or not executable
        }
    }
}
