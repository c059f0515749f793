using System.Text.Json;
using System.Text.RegularExpressions;
using BufferActors.Host.Simulate;

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
    public async Task EachScenarioEndsWithoutViolationsAndAtBaseline(string scenario)
    {
        var (exit, output) = await Run(new SimulationSettings { Scenario = Enum.Parse<SimulationScenario>(scenario, true), Seed = 1 });
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

    [Fact]
    public async Task TheSameSeedGivesTheSameRun()
    {
        var s = new SimulationSettings { Scenario = SimulationScenario.Display, Seed = 7 };
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
}
