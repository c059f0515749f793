using System.Diagnostics;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Benchmarks;

/// <summary>
/// The simulator half of <c>bench scale</c>: the same buffers exported straight on the simulated gntdev,
/// no actors, to tell the simulator's own memory per lifecycle from the actors'.
/// </summary>
internal static class ScaleSimulatorPhase
{
    /// <summary>Exports every buffer, measures, closes and polls each, and checks the ledger.</summary>
    public static (ProcessMemory Live, bool AtBaseline) Run(ScaleBenchSettings s, TextWriter output)
    {
        using var sim = new XenSimulator(ScaleFrontends.Options(s));
        var baseline = sim.Ledger();
        var fronts = new ScaleFrontends(sim, s);
        var gntdev = sim.OpenGrantDevice(sim.StartProcess("scale-bench-direct"));
        var fds = new int[s.Lifecycles]; // before the baseline, as the actor phase's ids
        var before = ProcessMemory.TakeSettled();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < fds.Length; i++)
        {
            var (domain, refs) = fronts.Buffers[i];
            fds[i] = gntdev.ExportDmaBuf(DmaBufFlags.None, domain, refs).Fd;
        }
        output.WriteLine($"  exported {fds.Length:N0} buffers directly in {clock.Elapsed.TotalSeconds:F1} s; ledger {sim.Ledger().Exports:N0} exports");
        var live = ProcessMemory.Take().Since(before);

        var problems = new List<string>();
        foreach (int fd in fds)
        {
            gntdev.CloseFd(fd);
            if (gntdev.WaitReleased(fd, 0) == WaitReleasedResult.TimedOut) problems.Add($"fd {fd} not released after close");
        }
        problems.AddRange(fronts.EndGrants());
        gntdev.Dispose();
        return (live, LedgerCheck.Report(sim, baseline, problems, output));
    }
}
