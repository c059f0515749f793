using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Benchmarks;

/// <summary>
/// The frontends of <c>bench scale</c>: <see cref="ScaleBenchSettings.Domains"/> domains, each granting
/// its share of the buffers to dom0 up front, one buffer per lifecycle, dealt round robin.
/// </summary>
internal sealed class ScaleFrontends
{
    private readonly List<SimulatedDomain> _domains = [];

    /// <summary>Creates the domains in <paramref name="sim"/> and grants every buffer.</summary>
    public ScaleFrontends(XenSimulator sim, ScaleBenchSettings s)
    {
        for (int d = 0; d < s.Domains; d++)
            _domains.Add(sim.CreateDomain((ushort)(1 + d), s.PerDomain * s.Pages + 16));
        Buffers = new (DomainId, uint[])[s.Lifecycles];
        for (int i = 0; i < s.Lifecycles; i++)
        {
            var domain = _domains[i % s.Domains];
            Buffers[i] = (domain.Id, domain.GrantPages(DomainId.Dom0, domain.AllocatePages(s.Pages), s.Pages));
        }
    }

    /// <summary>
    /// Simulator settings that fit: Xen's default v1 grant table (64 frames, 32,768 refs per domain),
    /// larger only when one domain must grant more pages than that.
    /// </summary>
    public static SimulatorOptions Options(ScaleBenchSettings s)
    {
        var defaults = new SimulatorOptions();
        return defaults with { GrantTableEntries = Math.Max(defaults.GrantTableEntries, s.PerDomain * s.Pages + 64) }; // + the 8 reserved refs and slack
    }

    /// <summary>Buffer i: its domain and the refs granting its pages.</summary>
    public (DomainId Domain, uint[] Refs)[] Buffers { get; }

    /// <summary>The frontends end every grant; a ref still mapped by dom0 is reported.</summary>
    public List<string> EndGrants()
    {
        var problems = new List<string>();
        foreach (var (domain, refs) in Buffers)
            foreach (var r in refs)
                if (!_domains[domain.Value - 1].EndAccess(r)) problems.Add($"{domain} ref {r} still mapped");
        return problems;
    }
}
