using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Lifecycles;

/// <summary>Exported dma-bufs as the manager, the supervisors and recovery see them.</summary>
/// <param name="settings">Timing of export lifecycles and how many finished export actors are reused.</param>
public sealed class ExportKind(ExportSettings settings) : ILifecycleKind
{
    /// <inheritdoc />
    public LifecycleKind Kind => LifecycleKind.Export;

    /// <inheritdoc />
    public Type RequestType => typeof(ExportedBuffer.Export);

    /// <inheritdoc />
    public bool IsBuffer => true;

    /// <inheritdoc />
    /// <remarks>A released export a device or another process still holds past <see cref="ExportSettings.QuarantineAfter"/>.</remarks>
    public bool CanBeQuarantined => true;

    /// <inheritdoc />
    public int ReusedActors => settings.ReusedActors;

    /// <inheritdoc />
    /// <remarks>Last: an export is released, not stopped, so a consumer still attached keeps its pages until it detaches.</remarks>
    public int CleanupPhase => 2;

    /// <inheritdoc />
    public object? CleanupMessage(LifecycleId id) => new ExportedBuffer.Release(id);

    /// <inheritdoc />
    /// <remarks>
    /// With the errno the kernel gives: WC with COHERENT (EINVAL); and flags other than WC and COHERENT (EINVAL), which
    /// the kernel silently ignores: a caller that sets them expects something no device does.
    /// </remarks>
    public OperationFailed? Refusal(ILifecycleRequest request) => ((ExportedBuffer.Export)request).Flags switch
    {
        var f when (f & ~(DmaBufFlags.WriteCombine | DmaBufFlags.Coherent)) != 0 =>
            new(ErrorCode.InvalidArgument, $"unknown export flags 0x{(uint)f:X}: only WC (1) and COHERENT (2) exist", Errno.EINVAL),
        DmaBufFlags.WriteCombine | DmaBufFlags.Coherent => new(ErrorCode.InvalidArgument, "WC and COHERENT exclude each other", Errno.EINVAL),
        _ => null,
    };

    /// <inheritdoc />
    public Props Props(LifecycleId id, LifecycleServices services) => ExportedBuffer.Props(id, services, settings);

    /// <inheritdoc />
    public LifecycleRecovery Recover(LifecycleRecord record, LifecycleServices services) =>
        record.Device == services.Session.InstanceId
            ? new LifecycleRecovery.Adopt(ExportedBuffer.Adopt(services, record, settings))
            : new LifecycleRecovery.Reclaim("the old gntdev instance is gone: the kernel releases the buffer when its last consumer lets go", TellFrontend: true);

    /// <inheritdoc />
    public IReadOnlyList<System.Text.Json.Serialization.Metadata.JsonDerivedType> Events => ExportState.Events;

    /// <inheritdoc />
    public IReadOnlyList<LifecycleTransition> Transitions => ExportState.Transitions;
}
