using System.Diagnostics;
using Akka.Actor;
using Akka.Hosting;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Benchmarks;

/// <summary>
/// The actor half of <c>bench scale</c>: BufferActors hosted as a backend embeds it, every lifecycle
/// exported and kept live, then one pending <c>WaitReleased</c> on each, then a sample released one at a
/// time and another in batches with the waiter's notification timed, then everything released and the
/// simulator's ledger checked.
/// </summary>
internal sealed class ScaleActorPhase(ScaleBenchSettings s, TextWriter output)
{
    /// <summary>Requests in flight while creating or releasing the bulk of the lifecycles.</summary>
    private const int InFlight = 256;

    /// <summary>Longer than any run, so every waiter is still pending when its buffer is released.</summary>
    private static readonly TimeSpan PendingWait = TimeSpan.FromHours(1);

    /// <summary>What the phase measured.</summary>
    /// <param name="Live">Growth from the warmed-up host to every lifecycle live.</param>
    /// <param name="WithWaiters">Growth from the warmed-up host to every lifecycle live with one pending wait.</param>
    /// <param name="Sequential">Release issued to waiter notified, one release at a time.</param>
    /// <param name="SequentialFromDevice">Device release (close returned) to waiter notified, one at a time.</param>
    /// <param name="Batched">Release issued to waiter notified, releases issued in batches.</param>
    /// <param name="BatchedFromDevice">Device release to waiter notified, in batches.</param>
    /// <param name="Passed">Every wait answered Released, nothing left live, the ledger back at its baseline.</param>
    /// <param name="GcPauseMax">The longest GC pause during the timed releases.</param>
    public sealed record Result(ProcessMemory Live, ProcessMemory WithWaiters, LatencySummary? Sequential, LatencySummary? SequentialFromDevice,
        LatencySummary? Batched, LatencySummary? BatchedFromDevice, bool Passed, TimeSpan GcPauseMax);

    public async Task<Result> RunAsync()
    {
        int n = s.Lifecycles;
        using var sim = new XenSimulator(ScaleFrontends.Options(s));
        var baseline = sim.Ledger();
        var fronts = new ScaleFrontends(sim, s);
        var device = new ReleaseTimingDevice(sim.OpenGrantDevice(sim.StartProcess("scale-bench")));
        var options = new BufferActorsOptions
        {
            Quotas = s.Quotas,
            Journal = s.Journal is null ? null : JournalStorage.Parse(s.Journal),
        };
        using var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka("scale-bench", (akka, _) => akka
                .ConfigureLoggers(l => l.LogLevel = Akka.Event.LogLevel.WarningLevel)
                .WithBufferActors(new DeviceSession(device), options)))
            .Build();
        await host.StartAsync().ConfigureAwait(false);
        var manager = await host.Services.GetRequiredService<IRequiredActor<BufferManagerKey>>().GetAsync().ConfigureAwait(false);
        var client = new BufferActorsClient(host.Services.GetRequiredService<ActorSystem>(), manager, options.RequestTimeout);
        var sweeper = host.Services.GetRequiredService<ActorSystem>().ActorOf(Props.Create(() => new StatusSweep()), "status-sweep");

        // Allocated before the baseline: the bench's own bookkeeping is not the lifecycles' cost.
        var ids = new LifecycleId[n];
        var fds = new int[n];
        var waits = new Task<WaitReleasedResult>[n];
        var order = Enumerable.Range(0, n).ToArray();
        new Random(42).Shuffle(order); // the timed samples are spread over every domain and the whole range
        var sequential = order[..s.Sample];
        var batched = order[s.Sample..(s.Sample + s.Batched)];
        var problems = new List<string>();

        await WarmUp(client, fronts, device, problems).ConfigureAwait(false);
        var before = ProcessMemory.TakeSettled();

        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = InFlight }, async (i, ct) =>
        {
            var (domain, refs) = fronts.Buffers[i];
            var export = await client.ExportAsync(domain, refs, ct: ct).ConfigureAwait(false);
            ids[i] = export.Id;
            fds[i] = export.Fd;
        }).ConfigureAwait(false);
        output.WriteLine($"  exported {n:N0} lifecycles in {clock.Elapsed.TotalSeconds:F1} s ({n / clock.Elapsed.TotalSeconds:N0}/s, {InFlight} requests in flight); ledger {sim.Ledger().Exports:N0} exports");
        var live = ProcessMemory.Take().Since(before);

        clock.Restart();
        for (int i = 0; i < n; i++) waits[i] = client.WaitReleasedAsync(ids[i], PendingWait);
        // A status request queued behind each wait: once all are answered, every wait is parked in its lifecycle.
        var sweep = await sweeper.Ask<StatusSweep.Swept>(new StatusSweep.Sweep(manager, ids, "Exported", InFlight), TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        problems.AddRange(sweep.Problems);
        int early = waits.Count(w => w.IsCompleted);
        if (early > 0) problems.Add($"{early} waits answered before any release");
        output.WriteLine($"  {n:N0} WaitReleased({PendingWait.TotalMinutes:F0} min) pending, parked in {clock.Elapsed.TotalSeconds:F1} s");
        var withWaiters = ProcessMemory.Take().Since(before);

        // Collections during the timed releases explain their outliers: with 100,000 lifecycles and their
        // waiters on the heap, even a gen0 collection stops every thread for far longer than a release takes.
        var collections = Enumerable.Range(0, 3).Select(GC.CollectionCount).ToArray();
        var paused = GC.GetTotalPauseDuration();
        using var pauses = new GcPauses();
        device.Recording = true;
        var (seq, seqDevice) = await ReleaseTimed(client, device, sequential, 1, ids, fds, waits, problems).ConfigureAwait(false);
        var (bat, batDevice) = s.Batched == 0 ? default
            : await ReleaseTimed(client, device, batched, s.Batch, ids, fds, waits, problems).ConfigureAwait(false);
        device.Recording = false;
        output.WriteLine($"  timed {s.Sample + s.Batched:N0} releases; meanwhile the GC ran {GC.CollectionCount(0) - collections[0]} gen0, " +
            $"{GC.CollectionCount(1) - collections[1]} gen1, {GC.CollectionCount(2) - collections[2]} gen2 collections, " +
            $"{(GC.GetTotalPauseDuration() - paused).TotalMilliseconds:F0} ms paused in all");
        await Task.Delay(200).ConfigureAwait(false); // the runtime's events reach a listener a little late
        var gcPauseMax = pauses.Longest;
        output.WriteLine($"  longest GC pause during the timed releases: {gcPauseMax.TotalMilliseconds:F1} ms ({pauses.Count} pauses seen)");

        clock.Restart();
        var timed = new HashSet<int>(sequential.Concat(batched));
        await Parallel.ForEachAsync(Enumerable.Range(0, n).Where(i => !timed.Contains(i)), new ParallelOptions { MaxDegreeOfParallelism = InFlight },
            async (i, ct) =>
            {
                var accepted = client.ReleaseAsync(ids[i], ct);
                await ((Task)accepted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (accepted.Exception is { } e) lock (problems) problems.Add($"{ids[i]}: release failed: {e.InnerException?.Message}");
            }).ConfigureAwait(false);
        await ((Task)Task.WhenAll(waits)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        int notReleased = waits.Count(w => !Released(w));
        if (notReleased > 0) problems.Add($"{notReleased:N0} waits failed or answered other than Released");
        output.WriteLine($"  released the other {n - timed.Count:N0} in {clock.Elapsed.TotalSeconds:F1} s; waits answered Released: {n - notReleased:N0} of {n:N0}");

        int stillLive = await LedgerCheck.WaitUntilNoneLive(client, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        if (stillLive > 0) problems.Add($"{stillLive} lifecycle(s) still live");
        if (problems.Count > 0)
        {
            output.WriteLine($"  {problems.Count:N0} problem(s), the first ones:");
            foreach (var p in problems.Take(10)) output.WriteLine($"    {p}");
        }
        await host.StopAsync().ConfigureAwait(false);
        var leftovers = fronts.EndGrants();
        device.Dispose();
        bool atBaseline = LedgerCheck.Report(sim, baseline, leftovers, output);
        return new Result(live, withWaiters, seq, seqDevice, bat, batDevice, atBaseline && problems.Count == 0, gcPauseMax);
    }

    /// <summary>
    /// Full lifecycles with a pending waiter, the same path as the timed ones, so that JIT tiering, the
    /// thread pool and the dispatcher have settled before the baseline and the timings.
    /// </summary>
    private async Task WarmUp(BufferActorsClient client, ScaleFrontends fronts, ReleaseTimingDevice device, List<string> problems)
    {
        device.Recording = true;
        for (int w = 0; w < s.Warmup; w++)
        {
            var (domain, refs) = fronts.Buffers[w % s.Lifecycles];
            var export = await client.ExportAsync(domain, refs).ConfigureAwait(false);
            var wait = client.WaitReleasedAsync(export.Id, PendingWait);
            await client.ReleaseAsync(export.Id).ConfigureAwait(false);
            if (await wait.ConfigureAwait(false) != WaitReleasedResult.Released) problems.Add($"warm-up {export.Id}: wait not Released");
        }
        device.Recording = false;
        device.Clear();
        if (await LedgerCheck.WaitUntilNoneLive(client, TimeSpan.FromSeconds(30)).ConfigureAwait(false) > 0)
            problems.Add("warm-up lifecycles still live");
    }

    /// <summary>
    /// Releases <paramref name="sample"/>, <paramref name="batch"/> at a time (the next batch once every
    /// waiter of this one was notified), and times each waiter's notification: from the moment its
    /// <c>ReleaseAsync</c> was issued, and from the moment the device released the buffer (its close returned).
    /// </summary>
    private static async Task<(LatencySummary? FromIssue, LatencySummary? FromDevice)> ReleaseTimed(BufferActorsClient client, ReleaseTimingDevice device,
        int[] sample, int batch, LifecycleId[] ids, int[] fds, Task<WaitReleasedResult>[] waits, List<string> problems)
    {
        if (sample.Length == 0) return (null, null);
        var fromIssue = new List<double>(sample.Length);
        var fromDevice = new List<double>(sample.Length);
        var issued = new long[batch];
        for (int start = 0; start < sample.Length; start += batch)
        {
            var chunk = sample[start..Math.Min(sample.Length, start + batch)];
            // The completion stamp is taken by a continuation registered before the release, run by the
            // thread that completes the host's wait task: what the host's own continuation would see.
            var notified = chunk.Select(i => CompletedAt(waits[i])).ToArray();
            var accepted = new Task[chunk.Length];
            for (int k = 0; k < chunk.Length; k++)
            {
                issued[k] = Stopwatch.GetTimestamp();
                accepted[k] = client.ReleaseAsync(ids[chunk[k]]);
            }
            var at = await Task.WhenAll(notified).ConfigureAwait(false);
            await Task.WhenAll(accepted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            for (int k = 0; k < chunk.Length; k++)
            {
                int i = chunk[k];
                if (accepted[k].Exception is { } e) problems.Add($"{ids[i]}: release failed: {e.InnerException?.Message}");
                if (!Released(waits[i])) continue; // not a latency sample; counted with every other failed wait at the end
                fromIssue.Add(Stopwatch.GetElapsedTime(issued[k], at[k]).TotalMicroseconds);
                fromDevice.Add(Stopwatch.GetElapsedTime(device.ClosedAt(fds[i]), at[k]).TotalMicroseconds);
            }
        }
        return fromIssue.Count == 0 ? (null, null) : (LatencySummary.Of(fromIssue), LatencySummary.Of(fromDevice));
    }

    private static bool Released(Task<WaitReleasedResult> wait) => wait.IsCompletedSuccessfully && wait.Result == WaitReleasedResult.Released;

    /// <summary>When <paramref name="wait"/> completed, whether it succeeded or not.</summary>
    private static async Task<long> CompletedAt(Task<WaitReleasedResult> wait)
    {
        await ((Task)wait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return Stopwatch.GetTimestamp();
    }
}
