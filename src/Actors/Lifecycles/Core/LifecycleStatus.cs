namespace BufferActors.Actors.Lifecycles;

/// <summary>A snapshot of one lifecycle.</summary>
/// <param name="Id">Which.</param>
/// <param name="State">Its state name.</param>
/// <param name="Fd">The fd it holds or is keyed by, if any.</param>
/// <param name="PageCount">Pages.</param>
/// <param name="Attachments">Consumer attachments (exports).</param>
/// <param name="Quarantined">True when a release is overdue and escalated.</param>
/// <param name="ReservationPages">Pages by which it lowers the backend's reservation now (a DMA-backed export).</param>
public sealed record LifecycleStatus(LifecycleId Id, string State, int? Fd, int PageCount, int Attachments, bool Quarantined, int ReservationPages = 0)
{
    /// <summary>Ask a lifecycle for its status.</summary>
    public sealed record Get(LifecycleId Id) : ILifecycleCommand;
}
