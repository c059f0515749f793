using BufferActors.Benchmarks;

namespace BufferActors.Tests.Bench;

/// <summary><c>bench lifecycle</c> runs every path it reports on and leaves the simulator at baseline (a smoke test, no timing asserted).</summary>
public sealed class LifecycleBenchCommandTests
{
    [Theory]
    [InlineData("both", new[] { "thread-pool", "inline" })]
    [InlineData("inline", new[] { "inline" })]
    public async Task EveryPathRunsAndTheLedgerEndsAtBaseline(string dispatcher, string[] paths)
    {
        var dispatchers = dispatcher == "both" ? BenchDispatchers.Both : BenchDispatchers.Inline;
        var output = new StringWriter();
        var settings = new LifecycleBenchSettings(Iterations: 30, Warmup: 2, Pages: [16, 64], Concurrent: 40, ConcurrentPages: 4, Rounds: 1, dispatchers)
        {
            JitQuiet = TimeSpan.Zero,
        };
        int exit = await LifecycleBench.Run(settings, output);
        var text = output.ToString();
        Assert.True(exit == 0, text);
        Assert.Contains("ledger at baseline, no violations", text);
        foreach (var size in new[] { 16, 64 })
        {
            // One phase per dispatcher, each with its own direct rows.
            Assert.Equal(paths.Length, System.Text.RegularExpressions.Regex.Matches(text, $@"\n\s+{size} direct\s+\d").Count);
            foreach (var path in paths) Assert.Matches($@"\n\s+{size} {path}\s+\d", text);
        }
        foreach (var path in paths) Assert.Matches($@"\n\s+{path}\s+[\d,]+\s+[\d.]+\.\.[\d.]+\s+[\d.]+", text); // its concurrent row
        foreach (var path in new[] { "thread-pool", "inline" }.Except(paths)) Assert.DoesNotContain($" {path} ", text);
    }
}
