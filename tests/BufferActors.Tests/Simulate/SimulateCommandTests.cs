using System.Text.Json;
using System.Text.RegularExpressions;
using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Host.Simulate;
using BufferActors.Native;
using Microsoft.Data.Sqlite;

namespace BufferActors.Tests.Simulate;

public sealed class SimulateCommandTests
{
    private static async Task<(int Exit, string Output)> Run(SimulationSettings s, bool json = true)
    {
        var output = new StringWriter();
        int exit = await SimulateCommand.RunAsync(s, json, output);
        return (exit, output.ToString());
    }

    [Theory]
    [InlineData("display")]
    [InlineData("camera")]
    [InlineData("churn")]
    [InlineData("fd-churn")]
    [InlineData("stuck-device")]
    public async Task EachScenarioEndsWithoutViolationsAndAtBaseline(string scenario)
    {
        var (exit, output) = await Run(new SimulationSettings { Scenario = SimulationScenarioNames.Parse(scenario), Seed = 1 });
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.True(exit == 0, output);
        Assert.Equal(1, root.GetProperty("seed").GetInt32());
        Assert.Equal(200, root.GetProperty("operations").GetInt32());
        Assert.True(root.GetProperty("faultsInjected").GetInt32() > 0);
        Assert.Equal(0, root.GetProperty("violations").GetArrayLength());
        foreach (var field in new[] { "maps", "grants", "dmabufs", "attachments", "fds", "reservationPages", "deferredRefs" })
            Assert.Equal(0, root.GetProperty("ledger").GetProperty(field).GetInt64());
    }

    [Theory]
    [InlineData("display")]
    [InlineData("stuck-device")] // held exports are probed on timers: they must not make the seed's faults depend on time
    public async Task TheSameSeedGivesTheSameRun(string scenario)
    {
        var s = new SimulationSettings { Scenario = SimulationScenarioNames.Parse(scenario), Seed = 7 };
        var (_, first) = await Run(s);
        var (_, second) = await Run(s);
        static string WithoutTiming(string json) => Regex.Replace(json, "\"elapsedMs\":[0-9.]+", "\"elapsedMs\":0");
        Assert.Equal(WithoutTiming(first), WithoutTiming(second));
    }

    [Fact]
    public async Task ACampaignOfTwentySeedsPasses()
    {
        var output = new StringWriter();
        int exit = await SimulateCommand.CampaignAsync(new SimulationSettings { Seed = 100 }, 20, json: false, output);
        Assert.True(exit == 0, output.ToString());
        Assert.Contains("20/20 seeds passed", output.ToString());
    }

    [Fact]
    public async Task TheCheckerFailsWhenTheDriverLeavesAnAttachmentBehind()
    {
        var s = new SimulationSettings { Scenario = SimulationScenario.Display, Seed = 1, Operations = 30, FaultRate = 0, BrokenSkipOneDetach = true };
        var result = await new WorkloadDriver(s).RunAsync();
        Assert.False(result.Passed);
        Assert.NotEmpty(result.Violations);
        Assert.Equal(1, result.Ledger.Attachments);

        var (exit, output) = await Run(s, json: false);
        Assert.Equal(1, exit);
        Assert.Contains("FAIL: seed 1", output);
        Assert.Contains("--seed 1", output);
        Assert.Contains("Trace:", output);
    }

    [Fact]
    public async Task AStuckDeviceGetsExportsQuarantined_TheCapRefusesTheirDomainsNextExports_AndNothingLeaks()
    {
        var result = await new WorkloadDriver(new SimulationSettings { Scenario = SimulationScenario.StuckDevice, Seed = 42 }).RunAsync();

        Assert.True(result.Passed, string.Join("\n", result.Violations));
        Assert.True(result.LifecyclesByOutcome.GetValueOrDefault("export:held") > 0);
        Assert.True(result.LifecyclesByOutcome.GetValueOrDefault("export:refused-QuotaExceeded") > 0, "seed 42 reaches a domain's cap");
        Assert.True(result.OperationsByKind.GetValueOrDefault("device-dies") > 0);
        Assert.True(result.Ledger.IsZero);
    }

    [Fact]
    public async Task TheCheckerFailsWhenTheCapDoesNotRefuse()
    {
        var s = new SimulationSettings { Scenario = SimulationScenario.StuckDevice, Seed = 42, FaultRate = 0, BrokenQuarantineCap = true };
        var result = await new WorkloadDriver(s).RunAsync();
        Assert.False(result.Passed);
        Assert.Contains(result.Violations, v => v.Contains("quarantined exports (cap 2), but its new export was served", StringComparison.Ordinal));
        Assert.True(result.Ledger.IsZero); // a cap too loose leaks nothing: the check is what fails
    }

    [Fact]
    public async Task AJournaledRunWithJournalWriteFaults_PassesAndJournalsEveryAcknowledgedStep()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ba-sim-{Guid.NewGuid():N}.db");
        try
        {
            var s = new SimulationSettings { Scenario = SimulationScenario.Churn, Seed = 5, FaultRate = 0.3, Journal = new JournalStorage.Sqlite(path), JournalText = path };
            var result = await new WorkloadDriver(s).RunAsync();
            Assert.True(result.Passed, string.Join("\n", result.Violations));
            Assert.True(result.FaultsBySite.GetValueOrDefault("JournalReject") + result.FaultsBySite.GetValueOrDefault("JournalFail") > 0,
                "seed 5 at rate 0.3 injects journal write faults");
            Assert.Contains(result.LifecyclesByOutcome.Keys, k => k.EndsWith("refused-Journal", StringComparison.Ordinal));
            var timeline = await JournalReader.ReadTimelineAsync(new JournalStorage.Sqlite(path));
            Assert.NotEmpty(timeline.Lifecycles);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            foreach (var f in new[] { path, path + "-wal", path + "-shm" }) File.Delete(f);
        }
    }

    [Fact]
    public async Task ARunRefusesAnExistingJournalFile()
    {
        var path = Path.GetTempFileName();
        try
        {
            var (exit, output) = await Run(new SimulationSettings { Journal = new JournalStorage.Sqlite(path), JournalText = path }, json: false);
            Assert.Equal(2, exit);
            Assert.Contains("simulate writes a fresh journal", output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AnAcknowledgedStepWithoutItsEvent_IsAViolation()
    {
        var export = new LifecycleId(LifecycleKind.Export, new DomainId(1), 1);
        var steps = new AcknowledgedSteps();
        Assert.True(steps.Add(export, "export"));
        Assert.True(steps.Add(export, "attach"));
        Assert.False(steps.Add(export, "flip")); // not a journaled step
        var now = DateTimeOffset.UnixEpoch;
        var journal = new List<JournalEntry>
        {
            new(1, new ExportRequested(export, now, [1], DmaBufFlags.None)),
            new(2, new Exported(export, now, 4, 1, Guid.Empty)),
        };
        var missing = Assert.Single(steps.MissingFrom(journal));
        Assert.Contains("attach of d1/export-1", missing);
        journal.Add(new(3, new Attached(export, now, "display", DmaDirection.ToDevice)));
        Assert.Empty(steps.MissingFrom(journal));
    }
}
