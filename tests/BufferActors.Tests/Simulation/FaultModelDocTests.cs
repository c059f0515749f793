using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>docs/fault-model.md is the one statement of the fault model: it names every fault site the simulator has.</summary>
public sealed class FaultModelDocTests
{
    public static TheoryData<string> Sites => [.. Enum.GetNames<FaultSite>()];

    [Theory]
    [MemberData(nameof(Sites))]
    public void EveryFaultSiteIsInTheFaultModel(string site)
    {
        var doc = File.ReadAllText(RepositoryFiles.Path("docs/fault-model.md"));
        Assert.Contains($"| `{site}` |", doc);
    }
}
