using System.Text.Json;

namespace BufferActors.Tests.Doctor;

/// <summary><c>bufferactors doctor</c> as a process on this machine, which is no Xen domain.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DoctorCommandTests
{
    private static bool NoXenHere => !File.Exists("/sys/hypervisor/type") && !File.Exists("/proc/xen/capabilities");

    [SkippableFact]
    public async Task WithoutXen_TheLinuxModeCannotRun_ItSaysSoAndPointsToTheSimulator_AsATableAndAsJson()
    {
        Skip.IfNot(NoXenHere, "this machine is a Xen domain");
        var (exit, output) = await HostProcess.RunAsync("doctor");
        Assert.Equal(1, exit);
        Assert.Contains("not a Xen domain", output, StringComparison.Ordinal);
        Assert.Contains("--device simulator", output, StringComparison.Ordinal);
        Assert.Contains("--device linux cannot run here.", output, StringComparison.Ordinal);

        (exit, output) = await HostProcess.RunAsync("doctor", "--json");
        Assert.Equal(1, exit);
        using var json = JsonDocument.Parse(output);
        Assert.False(json.RootElement.GetProperty("canRun").GetBoolean());
        Assert.Equal("failed", json.RootElement.GetProperty("findings")[0].GetProperty("outcome").GetString());
        Assert.False(json.RootElement.GetProperty("answers").GetProperty("gntdev").GetProperty("exists").GetBoolean());
    }

    [Fact]
    public async Task TheSimulatorModeCanRun_UnlessItsJournalFolderTakesNoFile()
    {
        string folder = Directory.CreateTempSubdirectory("ba-doctor-").FullName;
        try
        {
            var (exit, output) = await HostProcess.RunAsync("doctor", "--device", "simulator", "--journal", Path.Combine(folder, "journal.db"));
            Assert.True(exit == 0, output);
            Assert.Contains("--device simulator can run here.", output, StringComparison.Ordinal);

            // A folder the journal would create is fine; a folder that is a file, or a file where the folder should be, is not.
            (exit, output) = await HostProcess.RunAsync("doctor", "--device", "simulator", "--journal", Path.Combine(folder, "new", "journal.db"));
            Assert.True(exit == 0, output);
            (exit, output) = await HostProcess.RunAsync("doctor", "--device", "simulator", "--journal", folder, "--json");
            Assert.Equal(1, exit);
            Assert.Contains("is a folder, not a file", output, StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(folder, "plain"), "");
            (exit, output) = await HostProcess.RunAsync("doctor", "--device", "simulator", "--journal", Path.Combine(folder, "plain", "journal.db"), "--json");
            Assert.Equal(1, exit);
            Assert.Contains("is a file, where a folder would be", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
