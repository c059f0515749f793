using Akka.Actor;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Persistence;
using BufferActors.Host.Scenarios;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Tests.Actors;

public sealed class HostingTests
{
    [Fact]
    public async Task TheReadmeDemoCleansUpTheCrashedFrontendAndEndsAtBaseline()
    {
        var output = new StringWriter();
        string journal = Path.Combine(Path.GetTempPath(), $"ba-demo-{Guid.NewGuid():N}.db");
        int exit = await new DisplayBackendScenario(output, seed: 3, framebufferPages: 64, new BufferActors.Actors.Persistence.JournalStorage.Sqlite(journal)).RunAsync();
        Assert.True(File.Exists(journal), "the demo writes its journal");
        var text = output.ToString();
        Assert.Equal(0, exit);
        Assert.Contains("d2 crashes", text);
        Assert.Contains("crashed", text);
        Assert.Contains("Ledger back at baseline", text);
        Assert.DoesNotContain("LEAK", text);
    }

    [Fact]
    public void OptionsAreReadFromConfigurationKeys()
    {
        var config = new Dictionary<string, string?>
        {
            ["DevicePath"] = "/dev/xen/gntdev-test",
            ["MaxBuffersPerDomain"] = "8",
            ["MaxPagesPerDomain"] = "4096",
            ["JournalTimeoutSeconds"] = "90",
        };
        var options = BufferActorsOptions.FromConfiguration(k => config.GetValueOrDefault(k));
        Assert.Equal("/dev/xen/gntdev-test", options.DevicePath);
        Assert.Equal(8, options.Quotas.MaxBuffers);
        Assert.Equal(4096, options.Quotas.MaxPages);
        Assert.Equal(TimeSpan.FromSeconds(90), options.JournalTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), BufferActorsOptions.FromConfiguration(_ => null).JournalTimeout);
        Assert.Null(BufferActorsOptions.FromConfiguration(_ => null).DeviceFactory); // the Linux gntdev
        Assert.Equal("/dev/xen/gntdev", BufferActorsOptions.FromConfiguration(_ => null).DevicePath);
        Assert.True(BufferActorsOptions.FromConfiguration(_ => null).InlineDispatch);
        Assert.False(BufferActorsOptions.FromConfiguration(k => k == "InlineDispatch" ? "false" : null).InlineDispatch);
        var bad = Assert.Throws<ArgumentException>(() => BufferActorsOptions.FromConfiguration(k => k == "InlineDispatch" ? "sometimes" : null));
        Assert.Contains("InlineDispatch", bad.Message);
        var journal = Assert.IsType<BufferActors.Actors.Persistence.JournalStorage.Sqlite>(BufferActorsOptions.FromConfiguration(_ => null).Journal);
        Assert.Equal(BufferActors.Actors.Persistence.JournalDurability.Process, journal.Durability);
        var power = BufferActorsOptions.FromConfiguration(k => k switch { "Journal" => "j.db", "JournalDurability" => "power", _ => null });
        Assert.Equal(BufferActors.Actors.Persistence.JournalDurability.Power, Assert.IsType<BufferActors.Actors.Persistence.JournalStorage.Sqlite>(power.Journal).Durability);
        foreach (string wrong in new[] { "sometimes", "1" })
            Assert.Contains("JournalDurability", Assert.Throws<ArgumentException>(() => BufferActorsOptions.FromConfiguration(k => k == "JournalDurability" ? wrong : null)).Message);
    }

    [Theory]
    [InlineData(5, 30)]    // never below Akka's 30 s
    [InlineData(240, 240)] // a slow machine's journal time-out is the recovery's too
    public async Task TheJournalsRecoveryWaitsAsLongAsTheJournalTimeout_AndNeverLessThanAkkasDefault(int journalSeconds, int recoverySeconds)
    {
        string path = Path.Combine(Path.GetTempPath(), $"ba-recovery-timeout-{Guid.NewGuid():N}.db");
        using var sim = new XenSimulator(new SimulatorOptions { Seed = 2 });
        using var host = new HostBuilder().ConfigureServices(s => s.AddBufferActors(new BufferActorsOptions
        {
            DeviceFactory = _ => sim.OpenGrantDevice(),
            Journal = new JournalStorage.Sqlite(path),
            JournalTimeout = TimeSpan.FromSeconds(journalSeconds),
        })).Build();
        await host.StartAsync();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            // Where Akka reads it: the journal plugin's configuration over the plugin fallback.
            Akka.Persistence.Persistence.Instance.Apply(system); // its defaults are in the configuration once it runs
            var config = system.Settings.Config;
            var plugin = config.GetConfig("akka.persistence.journal.sql").WithFallback(config.GetConfig("akka.persistence.journal-plugin-fallback"));
            Assert.Equal(TimeSpan.FromSeconds(recoverySeconds), plugin.GetTimeSpan("recovery-event-timeout"));
        }
        finally
        {
            await host.StopAsync();
            foreach (var f in Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(path) + "*")) File.Delete(f);
        }
    }

    [Theory]
    [InlineData("MaxBuffersPerDomain", "0")]
    [InlineData("MaxPagesPerDomain", "lots")]
    [InlineData("JournalTimeoutSeconds", "-5")]
    public void InvalidConfigurationNamesTheKey(string key, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => BufferActorsOptions.FromConfiguration(k => k == key ? value : null));
        Assert.Contains(key, e.Message);
    }
}
