using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;

namespace BufferActors.Host.Replay;

/// <summary>
/// One place where re-executing a journal against the simulator did not reproduce what the journal recorded
/// (or, in <see cref="ReexecutionResult.Notes"/>, a difference that is informational only).
/// </summary>
/// <param name="SequenceNr">The journal event whose re-execution (or comparison) differed.</param>
/// <param name="Lifecycle">The lifecycle it belongs to.</param>
/// <param name="Operation">The recorded event (<c>$e</c> name, e.g. <c>exported</c>).</param>
/// <param name="Expected">What the journal recorded, for people (e.g. <c>fd 7, 2025 pages</c>).</param>
/// <param name="Actual">What the re-run produced (e.g. <c>fd 8, 2025 pages</c>, <c>failed: EINVAL (22)</c>).</param>
public sealed record Divergence(long SequenceNr, LifecycleId Lifecycle, string Operation, string Expected, string Actual)
{
    /// <inheritdoc />
    public override string ToString() => $"sequence {SequenceNr} {Lifecycle} {Operation}: recorded {Expected}, re-run {Actual}";
}
