using BufferActors.Benchmarks;

namespace BufferActors.Tests.Bench;

/// <summary><c>bench journaled-lifecycle</c> at a tiny size: it runs to the end, leaves nothing behind, and reports its figures.</summary>
public sealed class JournaledLifecycleBenchTests
{
    [Fact]
    public async Task OneAndSixtyFourAtOnce_AreMeasuredOnBothHosts_AndEndAtBaseline()
    {
        var output = new StringWriter();
        var report = new BenchReport();
        int exit = await JournaledLifecycleBench.RunAsync(new JournaledLifecycleSettings([1, 64], Pages: 1, Rounds: 1, Journal: null), output, report);

        Assert.True(exit == 0, output.ToString());
        Assert.Contains("ledger at baseline, no violations", output.ToString(), StringComparison.Ordinal);
        var names = report.Figures.Select(f => f.Name).ToHashSet();
        foreach (var name in new[] { "journaled_vs_unjournaled_64", "journaled_release_p99_us", "journaled_vs_unjournaled_1", "unjournaled_lifecycles_per_s_64" })
            Assert.Contains(name, names);
        // The figures mean nothing here (other tests run meanwhile); their relations do.
        Assert.All(report.Figures, f => Assert.True(f.Value > 0, $"{f.Name} = {f.Value}"));
        Assert.Equal("unjournaled_lifecycles_per_s_64", report.Figures.Single(f => f.Name == "journaled_vs_unjournaled_64").Baseline);
    }

    [Fact]
    public async Task SettingsThatCannotRunAreRefused()
    {
        var output = new StringWriter();
        Assert.Equal(2, await JournaledLifecycleBench.RunAsync(new JournaledLifecycleSettings([0], 1, 1, null), output, new BenchReport()));
        Assert.StartsWith("bench journaled-lifecycle: ", output.ToString(), StringComparison.Ordinal);
    }
}
