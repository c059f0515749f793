using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests;

/// <summary>
/// The grants a test's frontend made to dom0. <see cref="EndAll"/> ends every one of them and fails
/// if any is still mapped — the proof that the backend really unmapped what it mapped.
/// </summary>
internal sealed class FrontendGrants(SimulatedDomain frontend)
{
    private readonly List<(SimulatedDomain Domain, uint Ref)> _grants = [];

    /// <summary>Allocates <paramref name="pages"/> pages of <paramref name="from"/> (default: the frontend) and grants them to dom0.</summary>
    public uint[] Share(int pages, bool readOnly = false, SimulatedDomain? from = null)
    {
        from ??= frontend;
        var refs = from.GrantPages(DomainId.Dom0, from.AllocatePages(pages), pages, readOnly);
        foreach (var r in refs) _grants.Add((from, r));
        return refs;
    }

    /// <summary>The frontend revokes one of its grants before the backend maps it.</summary>
    public void Revoke(uint gref, SimulatedDomain? from = null)
    {
        from ??= frontend;
        Assert.True(from.EndAccess(gref));
        _grants.Remove((from, gref));
    }

    /// <summary>Ends every grant; each must succeed.</summary>
    public void EndAll()
    {
        foreach (var (domain, r) in _grants)
            Assert.True(domain.EndAccess(r), $"{domain.Id} ref {r} still mapped by the backend");
        _grants.Clear();
    }
}
