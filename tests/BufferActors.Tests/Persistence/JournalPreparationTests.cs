using System.Diagnostics;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Persistence;
using BufferActors.Campaigns;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Tests.Persistence;

/// <summary>
/// A journal that cannot be created or written is refused up front with <see cref="JournalUnavailableException"/>,
/// naming the path and the reason, before the host opens its device or starts an actor; nothing on disk changes.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class JournalPreparationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ba-prep-").FullName;

    private static bool IsRoot => Tmds.Linux.LibC.geteuid() == 0u;

    [Fact]
    public void AMissingFolderIsCreated_AndTheFileIsWritten()
    {
        string path = Path.Combine(_dir, "a", "b", "journal.db");
        new JournalStorage.Sqlite(path).Prepare();
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void AFolderThatCannotBeCreated_IsNamedWithTheReason()
    {
        string file = Path.Combine(_dir, "plain");
        File.WriteAllText(file, "x");
        string path = Path.Combine(file, "sub", "journal.db"); // a folder under a file
        var e = Unavailable(path);
        Assert.Equal(path, e.Location);
        Assert.Contains($"its folder {Path.Combine(file, "sub")} cannot be created", e.Reason);
        Assert.Equal("x", File.ReadAllText(file));
    }

    [Fact]
    public void AFolderGivenAsTheJournalFile_IsRefused()
    {
        var e = Unavailable(_dir);
        Assert.Equal("it is a folder, not a file", e.Reason);
    }

    [Fact]
    public void AFileThatIsNotADatabase_IsRefused_AndLeftAsItWas()
    {
        string path = Path.Combine(_dir, "notes.db");
        File.WriteAllText(path, "these are someone's notes, not a journal");
        var e = Unavailable(path);
        Assert.Contains("not a SQLite database", e.Reason);
        Assert.Equal("these are someone's notes, not a journal", File.ReadAllText(path));
    }

    [Fact]
    public void AReadOnlyOrImmutableJournal_IsRefusedUpFront()
    {
        string path = Path.Combine(_dir, "journal.db");
        new JournalStorage.Sqlite(path).Prepare();
        long length = new FileInfo(path).Length;
        // Root ignores permission bits: the immutable attribute binds root too.
        if (IsRoot) Assert.Equal(0, Run("chattr", "+i", path).Code);
        else File.SetUnixFileMode(path, UnixFileMode.UserRead);
        try
        {
            var e = Unavailable(path);
            Assert.Contains("read-only or immutable", e.Reason);
            Assert.Equal(length, new FileInfo(path).Length);
        }
        finally
        {
            if (IsRoot) Run("chattr", "-i", path);
            else File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    [Fact]
    public async Task AHostWhoseJournalCannotBeWritten_DoesNotStart_AndNeverOpensItsDevice()
    {
        using var sim = new XenSimulator(new SimulatorOptions { Seed = 2 });
        var baseline = sim.Ledger();
        string path = Path.Combine(_dir, "notes.db");
        File.WriteAllText(path, "not a journal");
        using var host = new HostBuilder().ConfigureServices(services => services
                .AddBufferActors(new BufferActorsOptions { DeviceFactory = _ => sim.OpenGrantDevice(), Journal = new JournalStorage.Sqlite(path) }))
            .Build();
        var e = await Assert.ThrowsAsync<JournalUnavailableException>(() => host.StartAsync());
        Assert.Equal(path, e.Location);
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline)); // no gntdev instance was opened, nothing else happened
    }

    [Fact]
    public void OnAFullDisk_TheHostSaysSo_AndExitsWithoutStarting()
    {
        // A 64 KiB tmpfs, filled, in a mount namespace of the child's own (unshare -Urm: no root needed).
        string mount = Path.Combine(_dir, "full");
        Directory.CreateDirectory(mount);
        string journal = Path.Combine(mount, "journal.db");
        var (code, output) = Run("unshare", "-Urm", "sh", "-c",
            """mount -t tmpfs -o size=64k tmpfs "$1" || exit 99; dd if=/dev/zero of="$1/fill" bs=4k count=64 2>/dev/null; exec "$2" "$3" demo --journal "$4" """,
            "sh", mount, HostChildProcess.DotnetHost, HostChildProcess.ProductAssemblyPath, journal);
        Assert.True(code != 99, $"could not mount a tmpfs in a user namespace: {output}");
        Assert.Equal(2, code);
        Assert.Contains($"bufferactors: the journal {journal} cannot be used: the disk is full", output);
        Assert.DoesNotContain("Ledger back at baseline", output); // the demo never ran
    }

    private static JournalUnavailableException Unavailable(string path) =>
        Assert.Throws<JournalUnavailableException>(() => new JournalStorage.Sqlite(path).Prepare());

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), $"{file} did not end within a minute");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
