using BufferActors.Campaigns;

namespace BufferActors.Tests.Simulate;

/// <summary>
/// The crash campaign end to end: a journaled host in a child process (bufferactors-campaigns.dll, copied next
/// to the tests) SIGKILLed at seeded points and restarted on the same journal. CI runs 20 points with
/// <c>dotnet run --project tests/Campaigns -- crash --points 20</c>; this runs three.
/// </summary>
public sealed class CrashCampaignTests
{
    [Fact]
    public async Task AHostKilledAtThreePoints_RecoversEachTime_WithTheLedgerAtBaselineAndEveryAcknowledgedStepJournaled()
    {
        var progress = new StringWriter();
        var result = await new CrashCampaign(new CrashCampaign.Settings(Points: 3, Seed: 11, Journal: null)).RunAsync(progress);
        Assert.True(result.Passed, string.Join("\n", result.Violations) + "\n" + progress);
        Assert.Equal(3, result.Kills);
        Assert.True(result.Acks >= 3, $"only {result.Acks} acknowledged steps: every run is killed after at least one");
        Assert.True(result.EventsInJournal >= result.Acks, $"{result.EventsInJournal} events for {result.Acks} acknowledged steps");
        Assert.Equal(4, progress.ToString().Split('\n').Count(l => l.Contains("run ", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1001)]
    public async Task TheCommandRefusesAPointCountOutOfRange(int points)
    {
        var output = new StringWriter();
        Assert.Equal(2, await CrashCampaignCommand.RunAsync(new CrashCampaign.Settings(points, 1, null), json: false, output));
        Assert.Contains("--points must be 1..1000", output.ToString());
    }

    [Fact]
    public async Task TheCommandRefusesAnExistingJournal()
    {
        var path = Path.GetTempFileName();
        try
        {
            var output = new StringWriter();
            Assert.Equal(2, await CrashCampaignCommand.RunAsync(new CrashCampaign.Settings(2, 1, path), json: false, output));
            Assert.Contains("needs a new SQLite file", output.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
