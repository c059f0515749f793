using BufferActors.Native;

namespace BufferActors.Tests.Simulation;

/// <summary>Pages are shared memory: what one side writes the other reads, with no copy in between.</summary>
public sealed class ZeroCopyTests : SimulatorTest
{
    [Fact]
    public void FrontendWritesAreReadThroughTheBackendsExport()
    {
        uint first = Frontend.AllocatePages(4);
        var refs = Frontend.GrantPages(DomainId.Dom0, first, 4);
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs);
        var view = Process.DmaBufOf(export.Fd).CpuView();

        Frontend.Page(first + 3)[100] = 0xAB;          // the guest draws
        Assert.Equal(0xAB, view.Page(3)[100]);          // the device sees it
        view.Page(0)[0] = 0xCD;                         // and the other way round
        Assert.Equal(0xCD, Frontend.Page(first)[0]);

        Gntdev.CloseFd(export.Fd);
        foreach (var r in refs) Assert.True(Frontend.EndAccess(r));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void GrantMapAliasesTheFrontendsPages()
    {
        uint first = Frontend.AllocatePages(2);
        var refs = Frontend.GrantPages(DomainId.Dom0, first, 2);
        var mapping = Gntdev.MapGrantRefs(Dom1, refs);
        mapping.Pages.Page(1)[7] = 42;
        Assert.Equal(42, Frontend.Page(first + 1)[7]);
        Gntdev.UnmapGrantRefs(mapping);
        foreach (var r in refs) Assert.True(Frontend.EndAccess(r));
        AssertLedgerAtBaseline();
    }
}
