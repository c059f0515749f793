namespace BufferActors.Actors.Lifecycles;

/// <summary>Messages and props of <see cref="ExportedBufferActor"/>.</summary>
public static class ExportedBuffer
{
    /// <summary>Start: export <paramref name="Refs"/> of <paramref name="Domain"/> as a dma-buf.</summary>
    public sealed record Export(DomainId Domain, IReadOnlyList<uint> Refs, DmaBufFlags Flags) : ILifecycleRequest
    {
        /// <inheritdoc />
        public int PageCount => Refs?.Count ?? 0;

        /// <summary>
        /// Also hand the requester its own descriptor of the buffer (<see cref="Exported.Shared"/>), for another process:
        /// made with the export, so no later step of the lifecycle can come between the two.
        /// </summary>
        public bool ShareWithRequester { get; init; }
    }

    /// <summary>The export exists: hand <paramref name="Fd"/> to the device.</summary>
    public sealed record Exported(LifecycleId Id, int Fd, int PageCount, DmaBufFlags Flags)
    {
        /// <summary>
        /// With <see cref="Export.ShareWithRequester"/>: the requester's own reference to the buffer as a real descriptor
        /// (<see cref="IGrantDevice.ShareDmaBuf"/>), which it owns; the buffer is not released while it is open.
        /// </summary>
        public Microsoft.Win32.SafeHandles.SafeFileHandle? Shared { get; init; }
    }

    /// <summary>A consumer (device) attached to the buffer and maps it in <paramref name="Direction"/>.</summary>
    public sealed record Attach(LifecycleId Id, string Consumer, DmaDirection Direction) : ILifecycleCommand;

    /// <summary>The attachment is recorded.</summary>
    public sealed record Attached(LifecycleId Id, string Consumer, DmaDirection Direction, int Attachments);

    /// <summary>The consumer detached.</summary>
    public sealed record Detach(LifecycleId Id, string Consumer) : ILifecycleCommand;

    /// <summary>The detachment is recorded.</summary>
    public sealed record Detached(LifecycleId Id, string Consumer, int Attachments);

    /// <summary>The backend is done with the buffer: release it once every consumer has detached.</summary>
    public sealed record Release(LifecycleId Id) : ILifecycleCommand;

    /// <summary>Release accepted; it completes when <paramref name="PendingAttachments"/> reaches zero.</summary>
    public sealed record ReleaseAccepted(LifecycleId Id, int PendingAttachments);

    /// <summary>
    /// Published on the event stream when a released export is quarantined: a holder (a device, another process) has
    /// kept it <paramref name="HeldFor"/> after the backend let go, past <see cref="ExportSettings.QuarantineAfter"/>.
    /// It stays live and polled; a daemon tells the client that owns it.
    /// </summary>
    public sealed record QuarantineNotice(LifecycleId Id, int PageCount, TimeSpan HeldFor);

    /// <summary>The longest wait the kernel's WAIT_RELEASED takes (its time-out is a u32 of milliseconds); longer ones wait without a timer.</summary>
    public static readonly TimeSpan LongestTimedWait = TimeSpan.FromMilliseconds(uint.MaxValue);

    /// <summary>True when a wait of <paramref name="timeout"/> has no timer: <see cref="Timeout.InfiniteTimeSpan"/> or longer than <see cref="LongestTimedWait"/>.</summary>
    public static bool WaitsForever(TimeSpan timeout) => timeout == Timeout.InfiniteTimeSpan || timeout > LongestTimedWait;

    /// <summary>
    /// Answer once the buffer is released, or when <paramref name="Timeout"/> passes: zero polls; any positive
    /// time-out up to <see cref="TimeSpan.MaxValue"/> and <see cref="Timeout.InfiniteTimeSpan"/> are served; other
    /// negative ones are refused with InvalidArgument.
    /// </summary>
    public sealed record WaitReleased(LifecycleId Id, TimeSpan Timeout) : ILifecycleCommand
    {
        /// <summary>A buffer whose lifecycle is over is released: the kernel's WAIT_RELEASED answers ENOENT for it too.</summary>
        public object NotFoundAnswer() => new WaitResult(Id, WaitReleasedResult.NotFound);
    }

    /// <summary>The one answer to a <see cref="WaitReleased"/>.</summary>
    public sealed record WaitResult(LifecycleId Id, WaitReleasedResult Result);

    /// <summary>Props for the actor of export lifecycle <paramref name="id"/>; the export comes with <see cref="StartLifecycle"/>.</summary>
    public static Props Props(LifecycleId id, LifecycleServices services, ExportSettings? settings = null)
    {
        var resolved = settings ?? ExportSettings.Default;
        return LifecycleProps.Of((id, services, resolved), static a => new ExportedBufferActor(a.id, a.services, a.resolved));
    }

    /// <summary>Props that adopt an export still live on this device instance after a restart.</summary>
    public static Props Adopt(LifecycleServices services, Persistence.LifecycleRecord record, ExportSettings settings)
    {
        var id = record.Id;
        return LifecycleProps.Of((id, services, record, settings), static a => new ExportedBufferActor(a.id, a.services, a.record, a.settings));
    }

    internal sealed record ProbeRelease;
    internal sealed record KernelWaitEnded(WaitReleasedResult Result);
    internal sealed record WaitExpired(long WaiterId);
}

/// <summary>Timing of an export lifecycle.</summary>
/// <param name="FirstProbe">First re-check of a buffer still held by an unknown holder after our close.</param>
/// <param name="MaxProbe">Back-off cap between re-checks.</param>
/// <param name="QuarantineAfter">After this long the buffer is reported quarantined (still polled).</param>
public sealed record ExportSettings(TimeSpan FirstProbe, TimeSpan MaxProbe, TimeSpan QuarantineAfter)
{
    /// <summary>
    /// How many export actors that finished their lifecycle a domain supervisor keeps to run its next
    /// exports, instead of stopping them and spawning new ones (0: every export gets a new actor). Spawning,
    /// watching and stopping an actor is most of what the actors add to an export lifecycle
    /// (docs/performance.md, "Reused export actors").
    /// </summary>
    public int ReusedActors { get; init; } = 8;

    /// <summary>1 ms first probe, 1 s cap, quarantine after 2 s (displ_be's give-up point, where it only logs).</summary>
    public static ExportSettings Default { get; } = new(TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
}
