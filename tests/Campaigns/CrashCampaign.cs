using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Host.Simulate;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using BufferActors.Native.Simulation.Remote;
using Microsoft.Data.Sqlite;

namespace BufferActors.Campaigns;

/// <summary>
/// <c>simulate --crash-points N</c>: the host process is SIGKILLed at N seeded points of a journaled
/// workload and started again on the same journal each time. This process plays Xen: it serves the
/// simulator on a Unix socket, its frontends grant fresh buffers for every run, and its display lets go
/// of what a dead host left attached. The host runs as a child process (<see cref="CrashWorkload"/>)
/// and prints every step the client acknowledged. After each kill the campaign checks that:
/// <list type="bullet">
/// <item>the next start reclaims every lifecycle that was acknowledged live, adopts nothing (the device
/// instance died with the process), and reclaims nothing that was acknowledged finished;</item>
/// <item>once the display let go, the frontends can end every grant, and the ledger is back at baseline.</item>
/// </list>
/// At the end a last start recovers and stops cleanly; then every acknowledged step's event must be in
/// the journal and no lifecycle may be left live in it. Kill points are seeded as "after the k-th
/// acknowledgement plus a short delay", so a kill also lands between a step's request and its reply.
/// </summary>
internal sealed class CrashCampaign
{
    /// <summary>Settings of a campaign.</summary>
    internal sealed record Settings(int Points, int Seed, string? Journal, int MaxAcksPerRun = 40, int Domains = 2, int BuffersPerDomain = 6, int Pages = 4,
        JournalDurability Durability = JournalDurability.Process);

    /// <summary>What a campaign found.</summary>
    internal sealed record Result(Settings Settings, string Journal, int Kills, int Acks, int Reclaimed, long EventsInJournal, IReadOnlyList<string> Violations, double ElapsedMs)
    {
        public bool Passed => Violations.Count == 0;
    }

    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private readonly Settings _s;
    private readonly Random _rng;
    private readonly List<string> _violations = [];
    private readonly AcknowledgedSteps _acked = new();
    private readonly HashSet<LifecycleId> _ackedLive = [];
    private readonly HashSet<LifecycleId> _ackedFinished = [];
    private readonly Dictionary<LifecycleId, int> _endedUnacknowledged = []; // acknowledged live, not reclaimed: its end must be journaled
    private int _acks;
    private int _reclaimed;

    public CrashCampaign(Settings settings)
    {
        _s = settings;
        _rng = new Random(settings.Seed);
    }

    public async Task<Result> RunAsync(TextWriter progress)
    {
        var clock = Stopwatch.StartNew();
        string scratch = Directory.CreateTempSubdirectory("ba-crash-").FullName;
        string journal = _s.Journal ?? Path.Combine(scratch, "journal.db");
        string socket = Path.Combine(scratch, "sim.sock");
        try
        {
            using var sim = new XenSimulator(new SimulatorOptions { Seed = _s.Seed });
            var frontends = Enumerable.Range(1, _s.Domains).Select(d => sim.CreateDomain((ushort)d)).ToList();
            using var server = new SimulatorServer(sim, socket);
            server.Start();
            var baseline = sim.Ledger();
            for (int run = 1; run <= _s.Points + 1 && _violations.Count == 0; run++)
            {
                bool last = run == _s.Points + 1;
                var pool = Grant(frontends);
                string poolFile = Path.Combine(scratch, $"pool-{run}.txt");
                File.WriteAllLines(poolFile, pool.Select(b => $"{b.Domain.Id.Value} {string.Join(",", b.Refs)}"));
                int killAfter = _rng.Next(1, _s.MaxAcksPerRun + 1);
                int extraDelayMs = _rng.Next(3);
                await RunOnceAsync(run, socket, journal, poolFile, last ? 0 : -1, last ? null : (killAfter, extraDelayMs)).ConfigureAwait(false);
                if (!server.WaitForClosedConnections(run, Bound)) Fail(run, "the simulator never saw the host's connection end");
                LetGo(run, server, sim, pool, baseline);
                progress.WriteLine(last
                    ? $"  run {run}: recovered and stopped cleanly"
                    : $"  run {run}: killed after {killAfter} acknowledgements (+{extraDelayMs} ms); ledger back at baseline");
            }
            long events = _violations.Count == 0 ? await CheckJournalAsync(journal).ConfigureAwait(false) : 0;
            return new Result(_s, journal, _s.Points, _acks, _reclaimed, events, [.. _violations], clock.Elapsed.TotalMilliseconds);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            // The journal of a failing campaign is kept for replay; a passing one in the scratch folder goes.
            if (_violations.Count == 0 || _s.Journal is not null) Directory.Delete(scratch, recursive: true);
            else progress.WriteLine($"  journal kept: {journal}");
        }
    }

    private sealed record Buffer(SimulatedDomain Domain, uint[] Refs);

    /// <summary>Fresh buffers for one run: every frontend grants its pages to dom0.</summary>
    private List<Buffer> Grant(List<SimulatedDomain> frontends) =>
        [.. frontends.SelectMany(f => Enumerable.Range(0, _s.BuffersPerDomain)
            .Select(_ => new Buffer(f, f.GrantPages(DomainId.Dom0, f.AllocatePages(_s.Pages), _s.Pages))))];

    /// <summary>One host process: recovery is checked, acknowledgements are collected, and it is killed at the point (or stops by itself).</summary>
    private async Task RunOnceAsync(int run, string socket, string journal, string poolFile, int operations, (int Acks, int DelayMs)? kill)
    {
        using var child = HostChildProcess.Start(HostChildProcess.CampaignsAssemblyPath, redirectInput: false, "crash-workload", "--socket", socket, "--journal", journal, "--pool", poolFile,
            "--seed", (_s.Seed * 1000 + run).ToString(CultureInfo.InvariantCulture), "--operations", operations.ToString(CultureInfo.InvariantCulture),
            "--durability", _s.Durability.ToString().ToLowerInvariant());
        var lines = Channel.CreateUnbounded<string>();
        child.OutputDataReceived += (_, e) => { if (e.Data is { } line) lines.Writer.TryWrite(line); else lines.Writer.TryComplete(); };
        var stderr = new System.Text.StringBuilder();
        child.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (stderr) stderr.AppendLine(line); };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        try
        {
            var first = await ReadLineAsync(lines, StartBound).ConfigureAwait(false);
            if (first?.StartsWith(CrashWorkload.RecoveredWord + " ", StringComparison.Ordinal) != true)
            {
                Fail(run, $"the host did not report its recovery (got '{first}'); stderr: {Stderr()}");
                return;
            }
            CheckRecovery(run, JsonSerializer.Deserialize<CrashWorkload.Recovered>(first[(CrashWorkload.RecoveredWord.Length + 1)..])!);
            if (kill is not { } point)
            {
                if (!child.WaitForExit(Bound) || child.ExitCode != 0) Fail(run, $"the last start did not stop cleanly; stderr: {Stderr()}");
                return;
            }
            for (int seen = 0; seen < point.Acks;)
            {
                var line = await ReadLineAsync(lines, Bound).ConfigureAwait(false);
                if (line is null)
                {
                    Fail(run, $"the host stopped after {seen} acknowledgements, before the kill point; stderr: {Stderr()}");
                    return;
                }
                if (Ack(run, line)) seen++;
            }
            if (point.DelayMs > 0) await Task.Delay(point.DelayMs).ConfigureAwait(false);
            child.Kill(); // SIGKILL: no cleanup in the host
            await child.WaitForExitAsync().WaitAsync(Bound).ConfigureAwait(false);
            // Lines printed before the kill that were not read yet are acknowledgements all the same.
            while (lines.Reader.TryRead(out var rest)) Ack(run, rest);
        }
        finally
        {
            if (!child.HasExited) child.Kill();
        }

        string Stderr() { lock (stderr) return stderr.ToString().Trim(); }
    }

    private static async Task<string?> ReadLineAsync(Channel<string> lines, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await lines.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Records an <c>ack step id</c> line; false for any other line.</summary>
    private bool Ack(int run, string line)
    {
        var words = line.Split(' ');
        if (words.Length != 3 || words[0] != CrashWorkload.AckWord) return false;
        if (!LifecycleId.TryParse(words[2], out var id) || !_acked.Add(id, words[1]))
        {
            Fail(run, $"unreadable acknowledgement '{line}'");
            return false;
        }
        _acks++;
        switch (words[1])
        {
            case "export" or "import" or "map":
                _ackedLive.Add(id);
                break;
            case "released" or "release-import" or "unmap":
                _ackedLive.Remove(id);
                _ackedFinished.Add(id);
                break;
        }
        return true;
    }

    /// <summary>The restart reclaims every lifecycle acknowledged live, adopts nothing, and reclaims nothing acknowledged finished.</summary>
    private void CheckRecovery(int run, CrashWorkload.Recovered report)
    {
        if (report.Adopted.Length > 0) Fail(run, $"adopted {string.Join(", ", report.Adopted)} although the old device instance died");
        var reclaimed = new HashSet<LifecycleId>();
        foreach (var text in report.Reclaimed)
        {
            if (LifecycleId.TryParse(text, out var id)) reclaimed.Add(id);
            else Fail(run, $"unreadable reclaimed id '{text}'");
        }
        // Not reclaimed is right only if the lifecycle's own end became durable before the kill (its
        // acknowledgement was not printed in time): checked against the journal at the end.
        foreach (var id in _ackedLive.Where(id => !reclaimed.Contains(id))) _endedUnacknowledged[id] = run;
        foreach (var id in reclaimed.Where(_ackedFinished.Contains))
            Fail(run, $"{id} was acknowledged finished but the restart reclaimed it");
        var mustTell = reclaimed.Where(id => id.Kind != LifecycleKind.Map).Select(id => (int)id.Domain.Value).Distinct().Order();
        if (!mustTell.SequenceEqual(report.Tell.Order())) Fail(run, $"frontends to tell: [{string.Join(",", report.Tell)}], expected [{string.Join(",", mustTell)}]");
        _reclaimed += reclaimed.Count;
        _ackedLive.Clear();
        foreach (var id in reclaimed) _ackedFinished.Add(id);
    }

    /// <summary>The display lets go of what the dead host left attached; the frontends end every grant; nothing may be left.</summary>
    private void LetGo(int run, SimulatorServer server, XenSimulator sim, List<Buffer> pool, SimulatorLedger baseline)
    {
        foreach (var attachment in server.DeviceAttachments) server.DetachDevice(attachment.Id);
        for (int t = 0; t < 100 && sim.Ledger().DeferredRefs > 0; t++) sim.Tick();
        foreach (var b in pool)
            foreach (var r in b.Refs)
                if (!b.Domain.EndAccess(r)) Fail(run, $"{b.Domain.Id} cannot end ref {r}: still mapped after the host died and the display let go");
        foreach (var v in sim.Violations) Fail(run, $"simulator: {v}");
        foreach (var d in sim.Ledger().DifferencesFrom(baseline)) Fail(run, $"ledger not at baseline: {d}");
    }

    /// <summary>Every acknowledged step is journaled, and nothing is left live in the journal.</summary>
    private async Task<long> CheckJournalAsync(string journal)
    {
        try
        {
            var entries = await JournalReader.ReadAsync(new JournalStorage.Sqlite(journal)).ConfigureAwait(false);
            foreach (var missing in _acked.MissingFrom(entries)) _violations.Add(missing);
            var ends = entries.Where(e => e.Event.IsTerminal).GroupBy(e => e.Event.Id).ToDictionary(g => g.Key, g => g.First().Event);
            foreach (var (id, run) in _endedUnacknowledged)
                if (!ends.TryGetValue(id, out var end) || end is Reclaimed)
                    Fail(run, $"{id} was acknowledged live when the host was killed, the restart did not reclaim it, and the journal shows no end of its own");
            var timeline = JournalTimeline.Build(entries);
            foreach (var id in timeline.Live) _violations.Add($"journal: {id} is still live after the last start reclaimed everything");
            foreach (var a in timeline.Anomalies.Where(a => a.Kind == AnomalyKind.UnexpectedTransition)) _violations.Add($"journal: {a.Message}");
            return entries.Count;
        }
        catch (Exception e) when (e is JournalUnreadableException or JournalFormatException)
        {
            _violations.Add($"journal: cannot be read: {e.Message}");
            return 0;
        }
    }

    private void Fail(int run, string violation) => _violations.Add($"run {run}: {violation}");
}
