using BufferActors.Conformance;

namespace BufferActors.Tests.Conformance;

/// <summary>
/// The real-kernel lane's conformance suite on the simulator, on the host: every case runs to the end on
/// its own fresh simulator, closes what it opened and leaves the simulator's ledger at its baseline. (The
/// lane compares these results with the kernel's; here they must at least be clean.)
/// </summary>
public sealed class SuiteOnSimulatorTests
{
    public static TheoryData<string> CaseNames => [.. Suite.Cases.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void TheCaseRunsCleanAndLeavesTheLedgerAtBaseline(string name)
    {
        using var target = new SimulatorTarget();
        var baseline = target.Simulator.Ledger();
        var result = Suite.Run(Suite.Cases.Single(c => c.Name == name), target);
        Assert.Null(result.Error);
        Assert.Equal("descriptors left open: 0", result.Observations[^1]);
        target.LetDeferredTimerRun();
        Assert.Empty(target.Simulator.Violations);
        Assert.Empty(target.Simulator.Ledger().DifferencesFrom(baseline));
    }

    [Fact]
    public void TheSuiteHasAtLeastFortyUniquelyNamedCases()
    {
        Assert.True(Suite.Cases.Count >= 40, $"{Suite.Cases.Count} cases");
        Assert.Equal(Suite.Cases.Count, Suite.Cases.Select(c => c.Name).Distinct().Count());
    }

    [Fact]
    public void EveryDeliberateDifferenceNamesACaseOfTheSuite()
    {
        var listed = Comparison.DeliberateDifferences(File.ReadAllText(RepositoryFiles.Path("docs/simulator.md")));
        Assert.NotEmpty(listed);
        Assert.All(listed, d =>
        {
            Assert.Contains(d.Key, Suite.Cases.Select(c => c.Name));
            Assert.False(string.IsNullOrWhiteSpace(d.Value), $"{d.Key} has no reason");
        });
    }
}
