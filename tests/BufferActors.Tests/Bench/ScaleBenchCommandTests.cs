using System.Globalization;
using System.Text.RegularExpressions;
using BufferActors.Benchmarks;

namespace BufferActors.Tests.Bench;

/// <summary><c>bench scale</c> at a tiny size: it runs to the end, leaves nothing behind, and prints every figure.</summary>
public sealed class ScaleBenchCommandTests
{
    [Fact]
    public async Task TwoHundredLifecyclesAreMeasuredAndEndAtBaseline()
    {
        // Two domains of 100 lifecycles each: over the default quota of 64, so the bench must raise it.
        var output = new StringWriter();
        int exit = await ScaleBenchCommand.RunAsync(new ScaleBenchSettings(Lifecycles: 200, Pages: 1, Domains: 2, Sample: 50, Batch: 10, Warmup: 20, Journal: null), output);
        string text = output.ToString();

        Assert.True(exit == 0, text);
        Assert.Contains("quota 100 buffers/domain", text);
        Assert.Contains("ledger 200 exports", text);
        Assert.Contains("waits answered Released: 200 of 200", text);
        Assert.Equal(2, Regex.Matches(text, "ledger at baseline, no violations").Count);
        // The figures themselves mean nothing here: other tests allocate and free in this process meanwhile.
        foreach (var row in new[] { "whole process: live export", "whole process: + one pending WaitReleased", "simulator alone: live export",
                     "actors' share: live export", "one pending WaitReleased (with - without)" })
            Assert.Equal(4, MemoryRow(text, row).Length);
        foreach (var row in new[] { "one at a time, from ReleaseAsync issued", "one at a time, from the device's release",
                     "10 at once, from ReleaseAsync issued", "10 at once, from the device's release" })
            Assert.Matches(new Regex(Regex.Escape(row) + @":\s+p50 +[0-9.]+ +p90 +[0-9.]+ +p99 +[0-9.]+ +max +[0-9.]+ +mean +[0-9.]+ us +\(n=50\)"), text);
        Assert.Matches(@"longest GC pause during the timed releases: [0-9.]+ ms \([0-9]+ pauses seen\)", text);
        Assert.Matches(@"target <= 4 KiB per live lifecycle, whole process \(larger of heap and resident growth\): (met|NOT met) \([0-9,-]+ bytes\)", text);
        Assert.Matches(@"target p99 <= 1 ms release -> waiter \(one at a time, from ReleaseAsync issued\): (met|NOT met) \([0-9]+ us\)", text);
    }

    [Theory]
    [InlineData(10, 1, 1, 6, 10)]  // two samples of 6 need 12 lifecycles
    [InlineData(10, 0, 1, 2, 0)]   // no pages
    [InlineData(10, 1, 11, 2, 0)]  // more domains than lifecycles
    public async Task SettingsThatCannotRunAreRefused(int lifecycles, int pages, int domains, int sample, int batch)
    {
        var output = new StringWriter();
        int exit = await ScaleBenchCommand.RunAsync(new ScaleBenchSettings(lifecycles, pages, domains, sample, batch, 0, null), output);
        Assert.Equal(2, exit);
        Assert.StartsWith("bench scale: ", output.ToString());
    }

    /// <summary>The four per-lifecycle figures of a memory row (heap, GC committed, resident, resident anonymous).</summary>
    private static long[] MemoryRow(string text, string label)
    {
        var match = Regex.Match(text, Regex.Escape(label) + @"[^\n]*?((?: +-?[0-9,]+){4})\r?\n");
        Assert.True(match.Success, $"no row '{label}' in:\n{text}");
        return match.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(n => long.Parse(n, NumberStyles.AllowThousands | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)).ToArray();
    }
}
