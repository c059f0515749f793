using System.Diagnostics;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// The C client (src/Host/client-c) built once per test class with its own Makefile, as a user builds it: plain into
/// <see cref="Plain"/>, and under AddressSanitizer and UBSan into <see cref="Sanitized"/>. The warnings are errors.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CClientBuild : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ba-client-c-").FullName;

    private readonly Exception? _absent;

    public CClientBuild()
    {
        Plain = Path.Combine(_root, "build");
        Sanitized = Path.Combine(_root, "asan");
        try
        {
            Needs.Gcc();
            Needs.Make();
        }
        catch (Exception e) when (e is SkipException or Xunit.Sdk.XunitException)
        {
            _absent = e; // each test that runs a C program reports it (Require)
            return;
        }
        Make($"BUILD={Plain}");
        Make($"BUILD={Sanitized}", "SANITIZE=1");
        // Programs run as another uid by some tests must be reachable by it.
        File.SetUnixFileMode(_root, (UnixFileMode)Convert.ToInt32("755", 8));
    }

    /// <summary>Skips (or fails, with BUFFERACTORS_REQUIRE_ALL=1) the calling test when the client could not be built for want of a tool.</summary>
    public void Require()
    {
        if (_absent is SkipException) throw new SkipException(_absent.Message);
        if (_absent is not null) throw new Xunit.Sdk.XunitException(_absent.Message);
    }

    /// <summary>The folder of the plain build (libbufferactors.a, .so, display-backend, golden-frames, peer-probe).</summary>
    public string Plain { get; }

    /// <summary>The folder of the sanitized build.</summary>
    public string Sanitized { get; }

    /// <summary>The client's source folder.</summary>
    public static string Source => System.IO.Path.GetDirectoryName(RepositoryFiles.Path("src/Host/client-c/Makefile"))!;

    private static void Make(params string[] args)
    {
        var start = new ProcessStartInfo("make", ["-C", Source, "all", .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var make = Process.Start(start)!;
        var output = make.StandardOutput.ReadToEndAsync();
        string errors = make.StandardError.ReadToEnd();
        make.WaitForExit();
        Assert.True(make.ExitCode == 0, $"make {string.Join(' ', args)} failed:\n{output.Result}\n{errors}");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

/// <summary>
/// A fact that needs root (to run a client as another uid with setpriv); skipped, visibly, otherwise. Like a
/// SkippableFact, it may also skip itself for want of a tool (<see cref="Needs"/>).
/// </summary>
[Xunit.Sdk.XunitTestCaseDiscoverer("Xunit.Sdk.SkippableFactDiscoverer", "Xunit.SkippableFact")]
public sealed class RootFactAttribute : SkippableFactAttribute
{
    public RootFactAttribute()
    {
        if (Environment.UserName != "root" && BufferActors.Native.Linux.LinuxProcess.Uid() != 0) Skip = "needs root: it runs a client as another uid (setpriv)";
    }
}
