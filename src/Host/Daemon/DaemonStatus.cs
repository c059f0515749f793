using System.Text.Json;
using System.Text.Json.Serialization;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Host.Daemon;

/// <summary>
/// The daemon's counts as <c>DAEMON_STATUS</c> answers them and <c>bufferactors status</c> prints them: live
/// lifecycles per frontend domain and kind, pages, deferred grants, quarantined exports, clients and journal lag.
/// </summary>
/// <param name="Device">The device served: <c>linux</c> or <c>simulator</c>.</param>
/// <param name="Clients">Connections open now.</param>
/// <param name="ClientLifecycles">Lifecycles those connections own.</param>
/// <param name="Live">Live lifecycles in the daemon (also those a closed connection left ending).</param>
/// <param name="Pages">Pages of all live lifecycles.</param>
/// <param name="ReservationPages">Pages by which live DMA-backed (WC/coherent) exports lower the daemon's reservation.</param>
/// <param name="Quarantined">Released exports still held past the quarantine time.</param>
/// <param name="Domains">Per frontend domain.</param>
/// <param name="Deferred">Released imports whose grants the kernel has not ended yet.</param>
/// <param name="JournalLagMs">How long the journal took to make everything owed durable now (null: no journal).</param>
/// <param name="Simulator">With <c>--device simulator</c>: what the simulated kernel and hypervisor hold, counted.</param>
/// <param name="Recovery">With a journal: what this start recovered from it.</param>
public sealed record DaemonStatus(
    string Device,
    int Clients,
    int ClientLifecycles,
    int Live,
    long Pages,
    long ReservationPages,
    int Quarantined,
    IReadOnlyList<DaemonStatus.DomainCounts> Domains,
    IReadOnlyList<DaemonStatus.DeferredCounts> Deferred,
    double? JournalLagMs,
    SimulatorLedger? Simulator,
    DaemonStatus.RecoveryCounts? Recovery = null)
{
    /// <summary>What the start recovered from the journal: events read, lifecycles adopted again, lifecycles closed
    /// as reclaimed (their device instance died with the old process), and the frontends whose backends must tell them.</summary>
    public sealed record RecoveryCounts(long EventsRecovered, int Adopted, int Reclaimed, IReadOnlyList<ushort> FrontendsToTell);

    /// <summary>
    /// One frontend domain's lifecycles, their pages and the reservation pages its exports hold; <paramref name="Released"/>
    /// when an operator released the accounting of a destroyed domain and these are what a device still holds of it
    /// (the same domid may then also appear unreleased: a new domain given the id).
    /// </summary>
    public sealed record DomainCounts(ushort Domid, bool Dead, int Exports, int Imports, int Maps, long Pages, long ReservationPages, bool Released = false);

    /// <summary>One import's deferred refs and their age.</summary>
    public sealed record DeferredCounts(string Lifecycle, int Refs, double AgeSeconds);

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The report as one JSON document.</summary>
    public string ToJson(bool indented = false) => JsonSerializer.Serialize(this, indented ? new JsonSerializerOptions(Json) { WriteIndented = true } : Json);

    /// <summary>Reads a report.</summary>
    /// <exception cref="JsonException">It is not one.</exception>
    public static DaemonStatus FromJson(string json) => JsonSerializer.Deserialize<DaemonStatus>(json, Json) ?? throw new JsonException("an empty status");

    /// <summary>Collects the counts from the actor system.</summary>
    public static async Task<DaemonStatus> CollectAsync(BufferActorsClient client, WireDevice device, int clients, int clientLifecycles, bool journaled, SimulatorLedger? ledger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        var snapshot = await client.SnapshotAsync().ConfigureAwait(false);
        int quarantined = 0;
        var reservation = new Dictionary<LifecycleId, long>();
        foreach (var id in snapshot.Domains.SelectMany(d => d.Lifecycles).Where(id => id.Kind == LifecycleKind.Export))
        {
            try
            {
                var status = await client.StatusAsync(id).ConfigureAwait(false);
                if (status.Quarantined) quarantined++;
                reservation[id] = status.ReservationPages;
            }
            catch (BufferActorsException)
            {
                // Ended between the snapshot and the question: not quarantined.
            }
        }
        double? lag = null;
        RecoveryCounts? recovery = null;
        if (journaled)
        {
            var report = await client.RecoveryReportAsync().ConfigureAwait(false);
            recovery = new RecoveryCounts(report.EventsRecovered, report.Adopted.Count, report.Reclaimed.Count, [.. report.FrontendsToTell.Select(d => d.Value)]);
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            await client.FlushJournalAsync().ConfigureAwait(false);
            lag = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        var now = DateTimeOffset.UtcNow;
        return new DaemonStatus(
            device == WireDevice.Simulator ? "simulator" : "linux",
            clients,
            clientLifecycles,
            snapshot.LiveLifecycles,
            snapshot.Domains.Sum(d => d.Pages),
            reservation.Values.Sum(),
            quarantined,
            [.. snapshot.Domains.Where(d => d.Lifecycles.Count > 0 || d.Dead).Select(d => new DomainCounts(d.Domain.Value, d.Dead,
                d.Lifecycles.Count(l => l.Kind == LifecycleKind.Export),
                d.Lifecycles.Count(l => l.Kind == LifecycleKind.Import),
                d.Lifecycles.Count(l => l.Kind == LifecycleKind.Map),
                d.Pages,
                d.Lifecycles.Sum(reservation.GetValueOrDefault),
                d.Released))],
            [.. snapshot.Deferred.Select(d => new DeferredCounts(d.Id.ToString(), d.Refs.Count, (now - d.Since).TotalSeconds))],
            lag,
            ledger,
            recovery);
    }
}
