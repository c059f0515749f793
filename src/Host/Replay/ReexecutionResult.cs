using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Native.Simulation;

namespace BufferActors.Host.Replay;

/// <summary>What <see cref="JournalReexecution.Run"/> found.</summary>
/// <param name="Seed">The simulator seed the run used.</param>
/// <param name="Operations">Journal events re-executed against the simulator (each one or more device calls).</param>
/// <param name="Divergences">Where the re-run did not reproduce the record, in sequence order.</param>
/// <param name="Notes">Informational differences that are not divergences (e.g. import ref numbers), and events that could not be re-executed.</param>
/// <param name="Ledger">The simulator's ledger at the end, after every attachment still open was detached, the grant device closed and the frontends ended their grants.</param>
/// <param name="Violations">Invariant violations the simulator observed during the run (a correct run has none).</param>
public sealed record ReexecutionResult(
    int Seed,
    int Operations,
    IReadOnlyList<Divergence> Divergences,
    IReadOnlyList<Divergence> Notes,
    SimulatorLedger Ledger,
    IReadOnlyList<string> Violations)
{
    /// <summary>The first divergence in sequence order, if any.</summary>
    public Divergence? FirstDivergence => Divergences.Count == 0 ? null : Divergences[0];
}
