namespace BufferActors.Actors;

/// <summary>
/// The one grant-device instance a BufferActors host uses. Its export calls keep every number a lifecycle
/// asks the kernel about owned for as long as it asks: WAIT_RELEASED finds buffers by fd number, newest
/// first, so a number given up and reused would answer for another buffer (docs/lifecycles.md, "Owned numbers").
/// </summary>
public sealed class DeviceSession(IGrantDevice device, Guid? instanceId = null)
{
    /// <summary>The device.</summary>
    public IGrantDevice Device { get; } = device;

    /// <summary>
    /// Identity of this open device instance, journaled with every kernel object. After a restart,
    /// objects recorded under another instance died with it (the kernel closed that gntdev file).
    /// </summary>
    public Guid InstanceId { get; } = instanceId ?? Guid.NewGuid();

    /// <summary>
    /// Fault-injection seam for supervision tests: called by every lifecycle actor on entry to each
    /// message handler with the lifecycle and the handler's message name; throwing from it makes the
    /// handler fail. Null in production.
    /// </summary>
    public Action<LifecycleId, string>? HandlerCheckpoint { get; init; }

    internal void Checkpoint(LifecycleId id, string handler) => HandlerCheckpoint?.Invoke(id, handler);

    /// <summary>Exports <paramref name="refs"/> of <paramref name="domain"/>; the dma-buf's fd is the lifecycle's own.</summary>
    public ExportedDmaBuf Export(DmaBufFlags flags, DomainId domain, IReadOnlyList<uint> refs)
    {
        var array = refs as uint[] ?? [.. refs];
        return Device.ExportDmaBuf(flags, domain, array);
    }

    /// <summary>
    /// Gives up the lifecycle's reference to the dma-buf at <paramref name="fd"/> and polls its release. The
    /// number is not freed: a placeholder takes it in the same step, so later polls by it still find this
    /// buffer or nothing. <see cref="FreeNumber"/> once the buffer is released.
    /// </summary>
    public WaitReleasedResult GiveUpAndProbe(int fd)
    {
        Device.ReplaceWithPlaceholder(fd);
        return Device.WaitReleased(fd, 0);
    }

    /// <summary>Polls an export whose reference was given up (its number held by a placeholder).</summary>
    public WaitReleasedResult Probe(int fd)
    {
        ReapParkedNumbers();
        return Device.WaitReleased(fd, 0);
    }

    /// <summary>Closes the placeholder that kept a released export's number.</summary>
    public void FreeNumber(int fd) => Device.CloseFd(fd);

    /// <summary>
    /// The lifecycle of the export at <paramref name="fd"/> ended while something else still held the buffer:
    /// the session keeps the number's placeholder until the buffer is released (see <see cref="ReapParkedNumbers"/>),
    /// or until a lifecycle adopting the export takes it over (<see cref="Unpark"/>). <paramref name="released"/>
    /// runs once the kernel has released it (the stopped lifecycle journals its end there).
    /// </summary>
    public void Park(int fd, Action? released = null)
    {
        lock (_parked) _parked[fd] = released;
    }

    /// <summary>An adopting lifecycle takes the number over; false if it was not parked here.</summary>
    public bool Unpark(int fd)
    {
        lock (_parked) return _parked.Remove(fd);
    }

    /// <summary>Numbers parked by <see cref="Park"/> and not yet freed.</summary>
    public int ParkedNumbers
    {
        get { lock (_parked) return _parked.Count; }
    }

    /// <summary>
    /// Frees the placeholder of every parked number whose buffer the kernel has released (WAIT_RELEASED
    /// answers not found) and runs its release action; returns how many. Runs at every probe and on the
    /// manager's reap timer; a host that wants its descriptor count back at once calls it after its devices let go.
    /// </summary>
    public int ReapParkedNumbers()
    {
        List<Action>? released = null;
        int freed = 0;
        lock (_parked)
        {
            if (_parked.Count == 0) return 0;
            foreach (var (fd, action) in _parked.ToList())
            {
                try
                {
                    if (Device.WaitReleased(fd, 0) == WaitReleasedResult.TimedOut) continue;
                    Device.CloseFd(fd);
                }
                catch (GntdevException)
                {
                    continue; // kept, and retried at the next reap
                }
                _parked.Remove(fd);
                freed++;
                if (action is not null) (released ??= []).Add(action);
            }
        }
        released?.ForEach(a => a());
        return freed;
    }

    private readonly Dictionary<int, Action?> _parked = [];

    /// <summary>
    /// Of <paramref name="refs"/>, those the kernel still keeps on its deferred list; none when none are, when the
    /// device cannot tell (Linux) or when it fails to answer: then the kernel ends them on its own.
    /// </summary>
    public uint[] StillDeferred(uint[] refs)
    {
        if (refs.Length == 0) return [];
        try
        {
            return Device.PendingEndAccess(refs) is { } pending ? [.. pending] : [];
        }
        catch (GntdevException)
        {
            return [];
        }
    }

    /// <summary>
    /// Watches grants whose end the kernel deferred at an import's release (<see cref="IGrantDevice.PendingEndAccess"/>)
    /// until the device reports them ended, then runs <paramref name="ended"/> (the import journals its end there).
    /// The lifecycle itself is over: nothing of the device is held, only the frontend's mapping keeps the pages.
    /// </summary>
    public void WatchDeferred(DeferredGrants grants, Action ended)
    {
        lock (_deferred) _deferred[grants.Id] = (grants, ended);
    }

    /// <summary>The deferred grants being watched, oldest first.</summary>
    public IReadOnlyList<DeferredGrants> Deferred
    {
        get { lock (_deferred) return [.. _deferred.Values.Select(d => d.Grants).OrderBy(d => d.Since).ThenBy(d => d.Id.Sequence)]; }
    }

    /// <summary>
    /// Asks the device which watched refs are still deferred; runs the action of every import whose refs all
    /// ended, and returns those imports. Runs on the manager's reap timer; a host that wants the ends journaled at
    /// once calls it after its frontends unmapped.
    /// </summary>
    public IReadOnlyList<LifecycleId> ReapEndedAccess()
    {
        List<Action>? ended = null;
        List<LifecycleId>? imports = null;
        lock (_deferred)
        {
            if (_deferred.Count == 0) return [];
            foreach (var (id, (grants, action)) in _deferred.ToList())
            {
                IReadOnlyList<uint>? pending;
                try
                {
                    pending = Device.PendingEndAccess([.. grants.Refs]);
                }
                catch (GntdevException)
                {
                    continue; // asked again at the next reap
                }
                if (pending is { Count: > 0 })
                {
                    if (pending.Count != grants.Refs.Count) _deferred[id] = (grants with { Refs = pending }, action);
                    continue;
                }
                _deferred.Remove(id);
                (ended ??= []).Add(action);
                (imports ??= []).Add(id);
            }
        }
        ended?.ForEach(a => a());
        return imports ?? [];
    }

    private readonly Dictionary<LifecycleId, (DeferredGrants Grants, Action Ended)> _deferred = [];
}
