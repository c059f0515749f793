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
        var report = new BenchReport();
        int exit = await LifecycleBench.Run(settings, output, report);
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

        // The same figures as JSON: a ratio per size and dispatcher, against the direct figure of the same run.
        using var json = System.Text.Json.JsonDocument.Parse(report.ToJson());
        var figures = json.RootElement.GetProperty("figures").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        foreach (var path in paths.Select(BenchReport.DispatcherName))
        {
            foreach (var size in new[] { "16pages", "64pages" })
            {
                var ratio = figures[$"ratio_{size}_{path}"];
                Assert.Equal("ratio", ratio.GetProperty("unit").GetString());
                string baseline = ratio.GetProperty("baseline").GetString()!;
                double expected = figures[$"lifecycle_actors_us_{size}_{path}"].GetProperty("value").GetDouble() / figures[baseline].GetProperty("value").GetDouble();
                // The report rounds every figure: the ratio and the means it came from agree to their rounding (1%).
                Assert.Equal(expected, ratio.GetProperty("value").GetDouble(), tolerance: expected * 0.01);
            }
            Assert.True(figures[$"concurrent_vs_direct_{path}"].GetProperty("value").GetDouble() > 0);
        }
    }
}
