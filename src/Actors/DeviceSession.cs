namespace BufferActors.Actors;

/// <summary>
/// The one grant-device instance a BufferActors host uses, with the lock that makes "close my fd,
/// then ask whether the buffer is released" atomic with respect to new exports: WAIT_RELEASED finds
/// buffers by fd number, and a new export must not take a just-closed number between the two calls.
/// </summary>
/// <param name="device">The open device.</param>
/// <param name="instanceId">Identity of the open instance; a fresh one unless the same instance is being re-wrapped.</param>
public sealed class DeviceSession(IGrantDevice device, Guid? instanceId = null)
{
    private readonly object _exportLock = new();

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

    /// <summary>Exports under the lock.</summary>
    public ExportedDmaBuf Export(DmaBufFlags flags, DomainId domain, IReadOnlyList<uint> refs)
    {
        var array = refs as uint[] ?? [.. refs];
        lock (_exportLock) return Device.ExportDmaBuf(flags, domain, array);
    }

    /// <summary>Closes <paramref name="fd"/> and polls its release in one step.</summary>
    public WaitReleasedResult CloseAndProbe(int fd)
    {
        lock (_exportLock)
        {
            Device.CloseFd(fd);
            return Device.WaitReleased(fd, 0);
        }
    }

    /// <summary>Polls an already closed export.</summary>
    public WaitReleasedResult Probe(int fd)
    {
        lock (_exportLock) return Device.WaitReleased(fd, 0);
    }
}
