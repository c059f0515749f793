// One export lifecycle through AddBufferActors on the simulator, journaled to SQLite: a display attaches, the backend
// releases, the display detaches, the wait sees the release. Exit 0 only when the journal's live set is empty and the
// simulator's ledger is back at its baseline.
using BufferActors.Actors.Api;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

string journalPath = Path.Combine(args.Length > 0 ? args[0] : Path.GetTempPath(), "consumer-journal.db");
using var sim = new XenSimulator(new SimulatorOptions { Seed = 1 });
var frontend = sim.CreateDomain(1);
var display = sim.AddDevice("display");
var baseline = sim.Ledger();
var refs = frontend.GrantPages(DomainId.Dom0, frontend.AllocatePages(4), 4);
var journal = new JournalStorage.Sqlite(journalPath);

var host = new HostBuilder()
    .ConfigureServices(services => services.AddBufferActors(new BufferActorsOptions { DeviceFactory = _ => sim.OpenGrantDevice(), Journal = journal }))
    .Build();
await host.StartAsync();
var client = host.Services.GetRequiredService<BufferActorsClient>();
var backend = ((SimulatedGrantDevice)host.Services.GetRequiredService<IGrantDevice>()).Process;

var export = await client.ExportAsync(frontend.Id, refs);
var scanout = display.Attach(backend, export.Fd);
await client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);
await client.ReleaseAsync(export.Id);
scanout.Detach();
await client.DetachAsync(export.Id, "display");
var released = await client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5));
await client.FlushJournalAsync();
await host.StopAsync();
host.Dispose();

foreach (uint r in refs) frontend.EndAccess(r);
var live = (await JournalReader.ReadTimelineAsync(journal)).Live;
var leaks = sim.Ledger().DifferencesFrom(baseline);
Console.WriteLine($"consumer: {export.Id} {released}; journal live {live.Count}; ledger {(leaks.Count == 0 ? "at baseline" : string.Join(", ", leaks))}");
return released != WaitReleasedResult.TimedOut && live.Count == 0 && leaks.Count == 0 ? 0 : 1;
