using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Native;
using BufferActors.Native.Simulation.Remote;

namespace BufferActors.Campaigns;

/// <summary>
/// The seeded steps of one crash-campaign run: exports (some DMA-backed) that the display attaches to
/// and detaches from, released and waited for; camera buffers imported and granted back; CPU maps.
/// Several lifecycles are live at any time, so a kill lands in every state. Each step the client
/// acknowledges is reported through <c>ack(step, id)</c>, with the step names of
/// <see cref="Host.Simulate.AcknowledgedSteps.EventOf"/>. There are no injected faults here: any refusal is a bug,
/// and it ends the run with an exception.
/// </summary>
internal sealed class CrashWorkloadSteps(BufferActorsClient client, RemoteGrantDevice gntdev, List<(DomainId Domain, uint[] Refs)> buffers,
    int seed, Action<string, LifecycleId> ack)
{
    private const int MaxImports = 3;
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(5);

    private sealed class Export(LifecycleId id, int fd, int buffer)
    {
        public LifecycleId Id { get; } = id;
        public int Fd { get; } = fd;
        public int Buffer { get; } = buffer;
        public ulong? Attachment { get; set; }
    }

    private readonly Random _rng = new(seed);
    private readonly Queue<int> _free = new(Enumerable.Range(0, buffers.Count));
    private readonly List<Export> _exports = [];
    private readonly List<(LifecycleId Id, int DeviceFd)> _imports = [];
    private readonly List<(LifecycleId Id, int Buffer)> _maps = [];

    /// <summary>One step, chosen by the seed among those possible now.</summary>
    public async Task NextAsync(CancellationToken ct)
    {
        int roll = _rng.Next(100);
        var idle = _exports.Where(e => e.Attachment is null).ToList();
        var attached = _exports.Where(e => e.Attachment is not null).ToList();
        if (roll < 25 && _free.Count > 0) await ExportAsync(ct);
        else if (roll < 40 && idle.Count > 0) await AttachAsync(idle[_rng.Next(idle.Count)], ct);
        else if (roll < 50 && attached.Count > 0) await DetachAsync(attached[_rng.Next(attached.Count)], ct);
        else if (roll < 62 && _exports.Count > 0) await ReleaseAsync(_exports[_rng.Next(_exports.Count)], ct);
        else if (roll < 72 && _imports.Count < MaxImports) await ImportAsync(ct);
        else if (roll < 80 && _imports.Count > 0) await ReleaseImportAsync(_imports[_rng.Next(_imports.Count)], ct);
        else if (roll < 90 && _free.Count > 0) await MapAsync(ct);
        else if (_maps.Count > 0) await UnmapAsync(_maps[_rng.Next(_maps.Count)], ct);
        else if (_free.Count > 0) await ExportAsync(ct);
        else await ReleaseAsync(_exports[_rng.Next(_exports.Count)], ct);
    }

    /// <summary>Ends every live lifecycle (a clean stop of a run that was not killed).</summary>
    public async Task LetGoAsync(CancellationToken ct)
    {
        foreach (var e in _exports.ToList()) await ReleaseAsync(e, ct);
        foreach (var i in _imports.ToList()) await ReleaseImportAsync(i, ct);
        foreach (var m in _maps.ToList()) await UnmapAsync(m, ct);
    }

    private async Task ExportAsync(CancellationToken ct)
    {
        int buffer = _free.Dequeue();
        var (domain, refs) = buffers[buffer];
        var flags = _rng.Next(3) == 0 ? DmaBufFlags.WriteCombine : DmaBufFlags.None;
        var export = await client.ExportAsync(domain, refs, flags, ct);
        _exports.Add(new Export(export.Id, export.Fd, buffer));
        ack("export", export.Id);
    }

    private async Task AttachAsync(Export e, CancellationToken ct)
    {
        e.Attachment = gntdev.DeviceAttach(CrashWorkload.Display, e.Fd);
        await client.AttachAsync(e.Id, CrashWorkload.Display, DmaDirection.ToDevice, ct);
        ack("attach", e.Id);
    }

    private async Task DetachAsync(Export e, CancellationToken ct)
    {
        gntdev.DeviceDetach(e.Attachment!.Value);
        e.Attachment = null;
        await client.DetachAsync(e.Id, CrashWorkload.Display, ct);
        ack("detach", e.Id);
    }

    /// <summary>Release; the display lets go of an attached buffer after the release was accepted (the deferred path); then wait.</summary>
    private async Task ReleaseAsync(Export e, CancellationToken ct)
    {
        await client.ReleaseAsync(e.Id, ct);
        ack("release", e.Id);
        if (e.Attachment is not null) await DetachAsync(e, ct);
        var result = await client.WaitReleasedAsync(e.Id, WaitTimeout, ct);
        if (result == WaitReleasedResult.TimedOut) throw new InvalidOperationException($"{e.Id}: released with nothing attached, but the wait timed out");
        ack("released", e.Id);
        _exports.Remove(e);
        _free.Enqueue(e.Buffer);
    }

    private async Task ImportAsync(CancellationToken ct)
    {
        var domain = buffers[_rng.Next(buffers.Count)].Domain;
        int pages = 1 + _rng.Next(4);
        int fd = gntdev.DeviceAllocateBuffer(CrashWorkload.Camera, pages);
        var import = await client.ImportAsync(domain, fd, pages, ct);
        _imports.Add((import.Id, fd));
        ack("import", import.Id);
    }

    private async Task ReleaseImportAsync((LifecycleId Id, int DeviceFd) i, CancellationToken ct)
    {
        await client.ReleaseImportAsync(i.Id, ct);
        ack("release-import", i.Id);
        gntdev.CloseFd(i.DeviceFd);
        _imports.Remove(i);
    }

    private async Task MapAsync(CancellationToken ct)
    {
        int buffer = _free.Dequeue();
        var (domain, refs) = buffers[buffer];
        var map = await client.MapAsync(domain, refs, readOnly: _rng.Next(2) == 0, ct);
        _maps.Add((map.Id, buffer));
        ack("map", map.Id);
    }

    private async Task UnmapAsync((LifecycleId Id, int Buffer) m, CancellationToken ct)
    {
        await client.UnmapAsync(m.Id, ct);
        ack("unmap", m.Id);
        _maps.Remove(m);
        _free.Enqueue(m.Buffer);
    }
}
