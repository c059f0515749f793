using BufferActors.Actors.Api;
using BufferActors.Actors.Diagnostics;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Tests.Diagnostics;

/// <summary>
/// A host made with <c>AddBufferActors</c> has one <see cref="BufferActorsMetrics"/> (on the host's meter factory):
/// its journal measures every write and its manager the recovery, on the same meter as the lifecycles.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HostedMetricsTests
{
    [Fact]
    public async Task AJournaledHostMeasuresItsRecoveryAndEveryJournalWrite()
    {
        string folder = Directory.CreateTempSubdirectory("ba-metrics-").FullName;
        using var sim = new XenSimulator(new SimulatorOptions { Seed = 4 });
        var frontend = sim.CreateDomain(1);
        var baseline = sim.Ledger();
        var journal = new JournalStorage.Sqlite(Path.Combine(folder, "journal.db"));
        var refs = frontend.GrantPages(DomainId.Dom0, frontend.AllocatePages(2), 2);
        var host = new HostBuilder().ConfigureServices(s => s.AddBufferActors(new BufferActorsOptions
        {
            DeviceFactory = _ => sim.OpenGrantDevice(),
            Journal = journal,
        })).Build();
        var metrics = host.Services.GetRequiredService<BufferActorsMetrics>();
        using var recovery = new MetricCollector<double>(metrics.Meter, "bufferactors.recovery.duration");
        using var writes = new MetricCollector<double>(metrics.Meter, "bufferactors.journal.write.duration");
        using var batches = new MetricCollector<long>(metrics.Meter, "bufferactors.journal.batch.size");
        await host.StartAsync();
        try
        {
            var client = host.Services.GetRequiredService<BufferActorsClient>();
            var export = await client.ExportAsync(new DomainId(1), refs);
            await client.ReleaseAsync(export.Id);
            Assert.NotEqual(WaitReleasedResult.TimedOut, await client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5)));
            await client.FlushJournalAsync();

            Assert.Single(recovery.GetMeasurementSnapshot());
            Assert.NotEmpty(writes.GetMeasurementSnapshot());
            // Every event the lifecycle journaled went out in some write: requested, exported, release, released.
            Assert.True(batches.GetMeasurementSnapshot().Sum(m => m.Value) >= 4, string.Join(",", batches.GetMeasurementSnapshot().Select(m => m.Value)));
        }
        finally
        {
            await host.StopAsync();
            host.Dispose(); // its gntdev instance with it
        }
        try
        {
            Assert.Empty((await JournalReader.ReadTimelineAsync(journal)).Live); // the journal's live set: the ledger's, empty
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
        Assert.True(frontend.EndAccess(refs[0]) && frontend.EndAccess(refs[1]));
        Assert.Empty(sim.Violations);
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
    }
}
