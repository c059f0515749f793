using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using BufferActors.Native.Simulation.Remote;
using BufferActors.Tests.Actors;
using WaitReleasedResult = BufferActors.Native.WaitReleasedResult;

namespace BufferActors.Tests.Hostile;

/// <summary>
/// The hostile input corpus: what the kernel's error paths reject and what a malicious frontend (or a
/// confused host) can send. Every case runs next to an innocent bystander of frontend d2 — an export a
/// display really holds and maps, and an import d2 really maps — and must yield a typed error, leave
/// the simulator ledger exactly as it was before the hostile call, leave the bystander untouched (same
/// status, refs still mapped, released normally afterwards), and end with the ledger at baseline.
/// Quotas are small (4 buffers, 256 pages per domain) so they can be exceeded cheaply.
/// </summary>
public sealed class HostileInputCorpusTests : LifecycleTest
{
    private static readonly DomainId Dom2 = new(2);
    private static readonly DomainId Dom3 = new(3);
    private static readonly DomainId Unknown = new(9);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    private const int MaxBuffers = 4;
    private const int MaxPages = 256;
    private const int PageLimit = 65536; // SimulatorOptions.PageLimit default

    private readonly FrontendGrants _grants;
    private readonly SimulatedDomain _d2;

    public HostileInputCorpusTests()
        : base(new BufferManager.Settings(new DomainLifecycles.Quotas(MaxBuffers, MaxPages), ExportSettings.Default))
    {
        _grants = new FrontendGrants(Frontend);
        _d2 = Sim.CreateDomain(2);
    }

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var name in Cases.Keys) data.Add(name);
        return data;
    }

    [Fact]
    public void TheCorpusHasAtLeastFortyCases() => Assert.True(Cases.Count >= 40, $"{Cases.Count} cases");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task HostileInputIsRefusedTyped_LeavesTheBystanderAlone_AndTheLedgerAtBaseline(string name)
    {
        var bystander = await StartBystander();
        var before = await bystander.Capture();

        await Cases[name](this);

        // Every hostile lifecycle is gone; the bystander's are exactly as they were.
        await AwaitAssertAsync(async () =>
        {
            var snapshot = await Client.SnapshotAsync();
            Assert.Equal(new[] { bystander.Export.Id, bystander.Import.Id }, snapshot.Domains.SelectMany(d => d.Lifecycles).OrderBy(i => i.Sequence));
        }, Bound);
        bystander.AssertUntouched(await bystander.Capture(), before);

        await bystander.TearDown();
        await AwaitNoLiveLifecycles();
        _grants.EndAll();
        AssertLedgerAtBaseline();
    }

    // ---------------------------------------------------------------------------------------------
    // The corpus: name → hostile operation(s). Each case cleans up what it legitimately created.
    // ---------------------------------------------------------------------------------------------

    private static readonly IReadOnlyDictionary<string, Func<HostileInputCorpusTests, Task>> Cases =
        new Dictionary<string, Func<HostileInputCorpusTests, Task>>
        {
            // ---- counts ----
            ["export count 0"] = t => t.Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null, () => t.Client.ExportAsync(Dom1, [])),
            ["export count limit+1"] = t => t.Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null,
                () => t.Client.ExportAsync(Dom1, Enumerable.Range(8, PageLimit + 1).Select(i => (uint)i).ToArray())),
            ["map count 0"] = t => t.Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null, () => t.Client.MapAsync(Dom1, [])),
            ["map count limit+1"] = t => t.Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null,
                () => t.Client.MapAsync(Dom1, new uint[PageLimit + 1])),
            ["import count 0"] = t => t.WithBuffer(1, fd => t.Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null, () => t.Client.ImportAsync(Dom1, fd, 0))),
            ["import count negative"] = t => t.WithBuffer(1, fd => t.Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null, () => t.Client.ImportAsync(Dom1, fd, -1))),
            ["import count limit+1"] = t => t.WithBuffer(1, fd => t.Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null, () => t.Client.ImportAsync(Dom1, fd, PageLimit + 1))),
            ["native export count 0 and limit+1"] = t =>
            {
                t.NativeFails(Errno.EINVAL, null, () => t.Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, []));
                t.NativeFails(Errno.EINVAL, null, () => t.Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, new uint[PageLimit + 1]));
                t.NativeFails(Errno.EINVAL, null, () => t.Gntdev.MapGrantRefs(Dom1, []));
                return Task.CompletedTask;
            },

            // ---- refs ----
            ["export ref beyond the grant table"] = t => t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.BadGntref, () => t.Client.ExportAsync(Dom1, [0xFFFF_FFF0u])),
            ["export reserved grant entry 0"] = t => t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.BadGntref, () => t.Client.ExportAsync(Dom1, [0u])),
            ["export ref never granted"] = async t =>
            {
                var refs = t._grants.Share(1);
                await t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.BadGntref, () => t.Client.ExportAsync(Dom1, [refs[0] + 50]));
            },
            ["export ref revoked before the export"] = async t =>
            {
                var refs = t._grants.Share(2);
                t._grants.Revoke(refs[1]);
                await t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.BadGntref, () => t.Client.ExportAsync(Dom1, refs));
                Assert.False(t.Frontend.IsInUse(refs[0])); // the page that did map was unmapped
            },
            ["export ref revoked between two exports"] = async t =>
            {
                var refs = t._grants.Share(2);
                var first = await t.Client.ExportAsync(Dom1, [refs[0]]);
                t._grants.Revoke(refs[1]);
                await t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.BadGntref, () => t.Client.ExportAsync(Dom1, [refs[1]]));
                Assert.Equal("Exported", (await t.Client.StatusAsync(first.Id)).State);
                Assert.True(t.Frontend.IsInUse(refs[0]));
                await t.ReleaseExport(first.Id);
            },
            ["export one bad ref among good ones"] = async t =>
            {
                var refs = t._grants.Share(3);
                await t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.BadGntref, () => t.Client.ExportAsync(Dom1, [refs[0], 0xDEAD_BEEFu, refs[2]]));
                Assert.All(refs, r => Assert.False(t.Frontend.IsInUse(r)));
            },
            ["frontend revokes a ref while it is exported"] = async t =>
            {
                var refs = t._grants.Share(1);
                var export = await t.Client.ExportAsync(Dom1, refs);
                Assert.False(t.Frontend.EndAccess(refs[0])); // the hypervisor refuses: still mapped
                Assert.True(t.Frontend.IsInUse(refs[0]));
                Assert.Equal("Exported", (await t.Client.StatusAsync(export.Id)).State);
                await t.ReleaseExport(export.Id);
                Assert.False(t.Frontend.IsInUse(refs[0]));
            },
            ["export refs granted to another domain"] = async t =>
            {
                uint gref = t.Frontend.GrantAccess(Dom3, t.Frontend.AllocatePages(1));
                await t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.GeneralError, () => t.Client.ExportAsync(Dom1, [gref]));
                Assert.True(t.Frontend.EndAccess(gref));
            },
            ["export read-only grants writable"] = async t =>
            {
                var refs = t._grants.Share(2, readOnly: true);
                await t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.GeneralError, () => t.Client.ExportAsync(Dom1, refs));
            },
            ["map read-only grants writable"] = async t =>
            {
                var refs = t._grants.Share(1, readOnly: true);
                await t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.GeneralError, () => t.Client.MapAsync(Dom1, refs, readOnly: false));
                var map = await t.Client.MapAsync(Dom1, refs, readOnly: true); // what the grant allows still works
                await t.Client.UnmapAsync(map.Id);
            },
            // The simulator (like gntdev, which does not deduplicate) maps a duplicated ref twice: allowed,
            // each mapping counted, both undone at release.
            ["export duplicate refs"] = async t =>
            {
                var refs = t._grants.Share(1);
                var before = t.Sim.Ledger();
                var export = await t.Client.ExportAsync(Dom1, [refs[0], refs[0]]);
                Assert.Equal(2, export.PageCount);
                Assert.True(t.Frontend.IsInUse(refs[0]));
                await t.ReleaseExport(export.Id);
                Assert.False(t.Frontend.IsInUse(refs[0]));
                Assert.Empty(t.Sim.Ledger().DifferencesFrom(before));
            },
            ["map duplicate refs"] = async t =>
            {
                var refs = t._grants.Share(1);
                var before = t.Sim.Ledger();
                var map = await t.Client.MapAsync(Dom1, [refs[0], refs[0]]);
                Assert.Equal(2, map.Pages.PageCount);
                map.Pages.Page(0)[0] = 0x5A; // both pages alias the same frame
                Assert.Equal(0x5A, map.Pages.Page(1)[0]);
                await t.Client.UnmapAsync(map.Id);
                Assert.False(t.Frontend.IsInUse(refs[0]));
                Assert.Empty(t.Sim.Ledger().DifferencesFrom(before));
            },

            // ---- domains ----
            ["export reserved domain 0x7FF0"] = t => t.ReservedExport(0x7FF0),
            ["export reserved domain 0x7FF1"] = t => t.ReservedExport(0x7FF1),
            ["export reserved domain 0x7FFF"] = t => t.ReservedExport(0x7FFF),
            ["export domain id 0xFFFF"] = t => t.ReservedExport(0xFFFF),
            ["map reserved domain 0x7FF0"] = async t =>
            {
                var refs = t._grants.Share(1);
                await t.Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null, () => t.Client.MapAsync(new DomainId(0x7FF0), refs));
            },
            ["import to reserved domain 0x7FF2"] = t => t.WithBuffer(1, fd =>
                t.Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null, () => t.Client.ImportAsync(new DomainId(0x7FF2), fd, 1))),
            ["native reserved domain ids"] = async t =>
            {
                var refs = t._grants.Share(1);
                foreach (ushort id in new ushort[] { 0x7FF0, 0x7FF1, 0x7FFF })
                {
                    t.NativeFails(Errno.EINVAL, null, () => t.Gntdev.ExportDmaBuf(DmaBufFlags.None, new DomainId(id), refs));
                    t.NativeFails(Errno.EINVAL, null, () => t.Gntdev.MapGrantRefs(new DomainId(id), refs));
                }
                await Task.CompletedTask;
            },
            ["export of an unknown domain"] = t => t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.BadDomain, () => t.Client.ExportAsync(Unknown, [8u, 9u])),
            ["map of an unknown domain"] = t => t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.BadDomain, () => t.Client.MapAsync(Unknown, [8u])),
            ["export of a dead domain"] = async t =>
            {
                var d3 = t.Sim.CreateDomain(3);
                var refs = t._grants.Share(2, from: d3);
                t.Sim.DestroyDomain(Dom3);
                await t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.BadDomain, () => t.Client.ExportAsync(Dom3, refs));
                await t.Refused(ErrorCode.Device, Errno.EINVAL, GrantStatus.BadDomain, () => t.Client.MapAsync(Dom3, refs));
            },

            // ---- flags ----
            ["export with both DMA flags"] = async t =>
            {
                var refs = t._grants.Share(2);
                // Refused before the device, with the errno the kernel would give.
                await t.Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null, () => t.Client.ExportAsync(Dom1, refs, DmaBufFlags.WriteCombine | DmaBufFlags.Coherent));
                Assert.All(refs, r => Assert.False(t.Frontend.IsInUse(r)));
            },

            // ---- wrong or foreign fds ----
            ["import of an fd that is not open"] = t => t.Refused(ErrorCode.Device, Errno.EBADF, null, () => t.Client.ImportAsync(Dom1, 999, 1)),
            ["import of a negative fd"] = t => t.Refused(ErrorCode.InvalidArgument, Errno.EBADF, null, () => t.Client.ImportAsync(Dom1, -1, 1)),
            ["import of the gntdev fd itself"] = t => t.Refused(ErrorCode.Device, Errno.EINVAL, null, () => t.Client.ImportAsync(Dom1, t.Gntdev.Fd, 1)),
            ["import of a foreign exported dma-buf (the bystander's)"] = async t =>
            {
                // The kernel imports a gntdev export (the real-kernel lane's export-then-import); its pages are
                // the frontend's own, mapped into dom0, so the new grants cannot be mapped by anyone. The
                // import is served, useless, and releasing it leaves the bystander's export as it was.
                var import = await t.Client.ImportAsync(Dom1, t._bystander!.Export.Fd, t._bystander.Export.PageCount);
                var unmappable = Assert.Throws<GntdevException>(() => t.Frontend.MapForeign(DomainId.Dom0, import.Refs[0]));
                Assert.Equal(GrantStatus.BadPage, unmappable.GrantStatus);
                await t.Client.ReleaseImportAsync(import.Id);
            },
            ["import of a VRAM buffer"] = t => t.WithBuffer(2, fd => t.Refused(ErrorCode.Device, Errno.EINVAL, null, () => t.Client.ImportAsync(Dom1, fd, 2)), DeviceMemoryKind.Vram),
            ["import of a buffer whose size is not a page multiple"] = t =>
                t.WithBuffer(2, fd => t.Refused(ErrorCode.Device, Errno.EINVAL, null, () => t.Client.ImportAsync(Dom1, fd, 2)), sizeBytes: 2 * PageView.PageSize - 100),
            ["import with a count smaller than the buffer"] = t => t.WithBuffer(3, fd => t.Refused(ErrorCode.Device, Errno.EINVAL, null, () => t.Client.ImportAsync(Dom1, fd, 2))),
            ["import with a count larger than the buffer"] = t => t.WithBuffer(2, fd => t.Refused(ErrorCode.Device, Errno.EINVAL, null, () => t.Client.ImportAsync(Dom1, fd, 3))),
            ["import with a first-segment offset"] = t =>
                t.WithBuffer(2, fd => t.Refused(ErrorCode.Device, Errno.EINVAL, null, () => t.Client.ImportAsync(Dom1, fd, 2)), firstOffset: 512),

            // ---- waits ----
            ["native wait on another instance's export fd"] = async t =>
            {
                var other = t.Sim.OpenGrantDevice();
                try
                {
                    int fd = t._bystander!.Export.Fd;
                    Assert.Equal(WaitReleasedResult.NotFound, other.WaitReleased(fd, 0));
                    Assert.Equal(WaitReleasedResult.NotFound, other.WaitReleased(fd, 50)); // not blocked either
                    // And the other way round: this host's instance does not know the other's export.
                    var refs = t._grants.Share(1);
                    var foreign = other.ExportDmaBuf(DmaBufFlags.None, Dom1, refs);
                    if (foreign.Fd != t._bystander.Export.Fd)
                        Assert.Equal(WaitReleasedResult.NotFound, t.Gntdev.WaitReleased(foreign.Fd, 0));
                    other.CloseFd(foreign.Fd);
                    Assert.Equal(WaitReleasedResult.NotFound, other.WaitReleased(foreign.Fd, 0)); // released: gone from the list
                    Assert.False(t.Frontend.IsInUse(refs[0]));
                }
                finally
                {
                    other.Dispose();
                    other.Process.Exit();
                }
                await Task.CompletedTask;
            },
            ["native wait on a dma-buf fd that is not an export"] = t => t.WithBuffer(1, fd =>
            {
                Assert.Equal(WaitReleasedResult.NotFound, t.Gntdev.WaitReleased(fd, 0));
                Assert.Equal(WaitReleasedResult.NotFound, t.Gntdev.WaitReleased(-1, 0));
                return Task.CompletedTask;
            }),
            ["wait on an unknown lifecycle id"] = async t =>
            {
                var unknown = new LifecycleId(LifecycleKind.Export, Dom1, 9999);
                Assert.Equal(WaitReleasedResult.NotFound, await t.Client.WaitReleasedAsync(unknown, TimeSpan.FromMilliseconds(100)));
                var unknownOfD2 = new LifecycleId(LifecycleKind.Export, Dom2, 9999); // d2's supervisor exists
                Assert.Equal(WaitReleasedResult.NotFound, await t.Client.WaitReleasedAsync(unknownOfD2, TimeSpan.FromMilliseconds(100)));
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.StatusAsync(unknown));
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.ReleaseAsync(unknownOfD2));
            },

            // ---- ids: another domain's, the wrong kind ----
            ["command naming the bystander's sequence under another domain"] = async t =>
            {
                var forged = t._bystander!.Export.Id with { Domain = Dom1 };
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.ReleaseAsync(forged));
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.DetachAsync(forged, "display"));
                var forgedImport = t._bystander.Import.Id with { Domain = Dom1 };
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.ReleaseImportAsync(forgedImport));
            },
            ["command naming the bystander's sequence with another kind"] = async t =>
            {
                var forged = t._bystander!.Export.Id with { Kind = LifecycleKind.Import };
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.ReleaseImportAsync(forged));
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.UnmapAsync(forged with { Kind = LifecycleKind.Map }));
            },
            ["release-import with an export id"] = t =>
                t.Refused(ErrorCode.InvalidArgument, null, null, () => t.Client.ReleaseImportAsync(t._bystander!.Export.Id)),
            ["unmap with an import id"] = t =>
                t.Refused(ErrorCode.InvalidArgument, null, null, () => t.Client.UnmapAsync(t._bystander!.Import.Id)),
            ["attach and release-export with an import id"] = async t =>
            {
                await t.Refused(ErrorCode.InvalidArgument, null, null, () => t.Client.AttachAsync(t._bystander!.Import.Id, "display", DmaDirection.ToDevice));
                await t.Refused(ErrorCode.InvalidArgument, null, null, () => t.Client.ReleaseAsync(t._bystander!.Import.Id));
            },
            ["unmap and detach with a map id of the wrong kind"] = async t =>
            {
                var map = await t.Client.MapAsync(Dom1, t._grants.Share(1));
                await t.Refused(ErrorCode.InvalidArgument, null, null, () => t.Client.DetachAsync(map.Id, "display"));
                await t.Refused(ErrorCode.InvalidArgument, null, null, () => t.Client.ReleaseImportAsync(map.Id));
                await t.Client.UnmapAsync(map.Id);
            },

            // ---- release twice, attach/detach misuse ----
            ["release export twice"] = async t =>
            {
                var export = await t.Client.ExportAsync(Dom1, t._grants.Share(1));
                await t.ReleaseExport(export.Id);
                await t.AwaitGone(export.Id);
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.ReleaseAsync(export.Id));
                Assert.Equal(WaitReleasedResult.NotFound, await t.Client.WaitReleasedAsync(export.Id, TimeSpan.FromMilliseconds(100)));
            },
            ["release export twice while a consumer is attached"] = async t =>
            {
                var export = await t.Client.ExportAsync(Dom1, t._grants.Share(1));
                await t.Client.AttachAsync(export.Id, "camera", DmaDirection.FromDevice);
                Assert.Equal(1, (await t.Client.ReleaseAsync(export.Id)).PendingAttachments);
                Assert.Equal(1, (await t.Client.ReleaseAsync(export.Id)).PendingAttachments); // idempotent, nothing closed
                Assert.Equal("Releasing", (await t.Client.StatusAsync(export.Id)).State);
                await t.Client.DetachAsync(export.Id, "camera");
                Assert.NotEqual(WaitReleasedResult.TimedOut, await t.Client.WaitReleasedAsync(export.Id, Bound));
            },
            ["release import twice"] = async t =>
            {
                int fd = t.Display.AllocateBuffer(t.Process, 1);
                var import = await t.Client.ImportAsync(Dom1, fd, 1);
                await t.Client.ReleaseImportAsync(import.Id);
                await t.AwaitGone(import.Id);
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.ReleaseImportAsync(import.Id));
                t.NativeFails(Errno.ENOENT, null, () => t.Gntdev.ReleaseImport(fd)); // and the kernel has no import keyed by it
                t.Gntdev.CloseFd(fd);
            },
            ["unmap twice"] = async t =>
            {
                var map = await t.Client.MapAsync(Dom1, t._grants.Share(2));
                await t.Client.UnmapAsync(map.Id);
                await t.AwaitGone(map.Id);
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.UnmapAsync(map.Id));
            },
            ["native release of an import never made"] = t =>
            {
                t.NativeFails(Errno.ENOENT, null, () => t.Gntdev.ReleaseImport(t._bystander!.Export.Fd));
                t.NativeFails(Errno.ENOENT, null, () => t.Gntdev.ReleaseImport(-1));
                return Task.CompletedTask;
            },
            ["detach a consumer never attached"] = async t =>
            {
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.DetachAsync(t._bystander!.Export.Id, "camera"));
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.DetachAsync(t._bystander!.Export.Id, ""));
            },
            ["attach with direction NONE"] = t =>
                t.Refused(ErrorCode.InvalidArgument, null, null, () => t.Client.AttachAsync(t._bystander!.Export.Id, "camera", DmaDirection.None)),
            ["attach with an empty consumer name"] = t =>
                t.Refused(ErrorCode.InvalidArgument, null, null, () => t.Client.AttachAsync(t._bystander!.Export.Id, "  ", DmaDirection.ToDevice)),
            ["attach the same consumer in two directions"] = t =>
                t.Refused(ErrorCode.Device, Errno.EBUSY, null, () => t.Client.AttachAsync(t._bystander!.Export.Id, "display", DmaDirection.FromDevice)),
            ["native device maps an attachment in two directions"] = t =>
            {
                var attachment = t.Display.Attach(t.Process, t._bystander!.Export.Fd);
                attachment.Map(DmaDirection.ToDevice);
                t.NativeFails(Errno.EBUSY, null, () => attachment.Map(DmaDirection.FromDevice));
                t.NativeFails(Errno.EINVAL, null, () => t.Display.Attach(t.Process, t.Gntdev.Fd)); // not a dma-buf
                var second = t.Display.Attach(t.Process, t._bystander.Export.Fd);
                t.NativeFails(Errno.EINVAL, null, () => second.Map(DmaDirection.None));
                second.Detach();
                attachment.Detach();
                t.NativeFails(Errno.EINVAL, null, () => attachment.Detach()); // detach twice
                return Task.CompletedTask;
            },
            ["attach after release was requested"] = async t =>
            {
                var export = await t.Client.ExportAsync(Dom1, t._grants.Share(1));
                await t.Client.AttachAsync(export.Id, "camera", DmaDirection.FromDevice);
                await t.Client.ReleaseAsync(export.Id);
                await t.Refused(ErrorCode.InvalidState, null, null, () => t.Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice));
                await t.Client.DetachAsync(export.Id, "camera");
                Assert.NotEqual(WaitReleasedResult.TimedOut, await t.Client.WaitReleasedAsync(export.Id, Bound));
            },
            ["attach after release completed"] = async t =>
            {
                var export = await t.Client.ExportAsync(Dom1, t._grants.Share(1));
                await t.ReleaseExport(export.Id);
                await t.AwaitGone(export.Id);
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice));
            },

            // ---- quotas ----
            ["quota: buffers exceeded"] = async t =>
            {
                var exports = new List<LifecycleId>();
                for (int i = 0; i < MaxBuffers; i++) exports.Add((await t.Client.ExportAsync(Dom1, t._grants.Share(1))).Id);
                var refs = t._grants.Share(1);
                await t.Refused(ErrorCode.QuotaExceeded, null, null, () => t.Client.ExportAsync(Dom1, refs));
                await t.WithBuffer(1, fd => t.Refused(ErrorCode.QuotaExceeded, null, null, () => t.Client.ImportAsync(Dom1, fd, 1)));
                var map = await t.Client.MapAsync(Dom1, refs); // maps are not buffers
                await t.Client.UnmapAsync(map.Id);
                foreach (var id in exports) await t.ReleaseExport(id);
                foreach (var id in exports) await t.AwaitGone(id);
                var again = await t.Client.ExportAsync(Dom1, refs); // freed again
                await t.ReleaseExport(again.Id);
            },
            ["quota: pages exceeded"] = async t =>
            {
                var map = await t.Client.MapAsync(Dom1, t._grants.Share(MaxPages - 10));
                var refs = t._grants.Share(11);
                await t.Refused(ErrorCode.QuotaExceeded, null, null, () => t.Client.ExportAsync(Dom1, refs));
                await t.Refused(ErrorCode.QuotaExceeded, null, null, () => t.Client.MapAsync(Dom1, refs));
                await t.Refused(ErrorCode.QuotaExceeded, null, null, () => t.Client.ExportAsync(Dom1, new uint[MaxPages + 1]));
                var fits = await t.Client.ExportAsync(Dom1, refs[..10]); // exactly at the quota
                await t.ReleaseExport(fits.Id);
                await t.Client.UnmapAsync(map.Id);
            },

            // ---- after domain death ----
            ["operations after DomainDied are refused DomainDead"] = async t =>
            {
                var refs = t._grants.Share(2);
                var map = await t.Client.MapAsync(Dom1, [refs[0]]);
                Assert.Equal(1, (await t.Client.DomainDiedAsync(Dom1)).Lifecycles);
                await t.AwaitGone(map.Id);
                Assert.False(t.Frontend.IsInUse(refs[0])); // the cleanup unmapped it
                await t.Refused(ErrorCode.DomainDead, null, null, () => t.Client.ExportAsync(Dom1, [refs[1]]));
                await t.Refused(ErrorCode.DomainDead, null, null, () => t.Client.MapAsync(Dom1, [refs[1]]));
                await t.WithBuffer(1, fd => t.Refused(ErrorCode.DomainDead, null, null, () => t.Client.ImportAsync(Dom1, fd, 1)));
                await t.Refused(ErrorCode.NotFound, null, null, () => t.Client.UnmapAsync(map.Id));
                Assert.Equal(0, (await t.Client.DomainDiedAsync(Dom1)).Lifecycles); // repeated: nothing more
                Assert.True((await t.Client.SnapshotAsync()).Domains.Single(d => d.Domain == Dom1).Dead);
            },
            ["DomainDied while an export is held, then more requests"] = async t =>
            {
                var refs = t._grants.Share(2);
                var export = await t.Client.ExportAsync(Dom1, [refs[0]]);
                await t.Client.AttachAsync(export.Id, "camera", DmaDirection.FromDevice);
                await t.Client.DomainDiedAsync(Dom1);
                // DomainCleanupStarted is answered before the supervisor tells the export to release: the cleanup runs on.
                await t.AwaitAssertAsync(async () => Assert.Equal("Releasing", (await t.Client.StatusAsync(export.Id)).State), Bound);
                await t.Refused(ErrorCode.InvalidState, null, null, () => t.Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice));
                await t.Refused(ErrorCode.DomainDead, null, null, () => t.Client.ExportAsync(Dom1, [refs[1]]));
                await t.Client.DetachAsync(export.Id, "camera");
                Assert.NotEqual(WaitReleasedResult.TimedOut, await t.Client.WaitReleasedAsync(export.Id, Bound));
            },
            // A domain that dies before it ever had a lifecycle has no supervisor to remember it: see the report.
            // The request is still refused with a typed error, by the hypervisor if not by BufferActors.
            ["export after DomainDied of a domain that never had a lifecycle"] = async t =>
            {
                var d3 = t.Sim.CreateDomain(3);
                var refs = t._grants.Share(1, from: d3);
                t.Sim.DestroyDomain(Dom3);
                Assert.Equal(0, (await t.Client.DomainDiedAsync(Dom3)).Lifecycles);
                var before = t.Sim.Ledger();
                var e = await Assert.ThrowsAsync<BufferActorsException>(() => t.Client.ExportAsync(Dom3, refs));
                Assert.True(e.Code == ErrorCode.DomainDead || (e.Code == ErrorCode.Device && e.Failure.GrantStatus == GrantStatus.BadDomain), e.Message);
                Assert.Empty(t.Sim.Ledger().DifferencesFrom(before));
            },

            // ---- the socket protocol ----
            ["socket: refs count larger than the payload"] = t => t.OverSocket(raw =>
            {
                var r = raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.ExportDmaBuf).U32(0).U16(1).U32(0xFFFF_FFFF).U32(8));
                Assert.Equal(Errno.EINVAL, r.Errno);
                Assert.Contains("refs count 4294967295", r.Detail);
                var m = raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.MapGrantRefs).U16(1).U8(0).U32(2));
                Assert.Equal(Errno.EINVAL, m.Errno);
            }),
            ["socket: negative fds"] = t => t.OverSocket(raw =>
            {
                var import = raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.ImportDmaBuf).I32(-1).I32(1).U16(1));
                Assert.Equal(Errno.EBADF, import.Errno);
                Assert.Equal(Errno.EBADF, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.CloseFd).I32(-1)).Errno);
                Assert.Equal(Errno.ENOENT, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.ReleaseImport).I32(-7)).Errno);
                var wait = raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.WaitReleased).I32(int.MinValue).U32(0));
                Assert.Equal(Errno.None, wait.Errno);
                Assert.Equal((byte)WaitReleasedResult.NotFound, wait.Payload().U8("result"));
            }),
            ["socket: reserved domain ids over the wire"] = t => t.OverSocket(raw =>
            {
                var refs = t._grants.Share(1);
                foreach (ushort id in new ushort[] { 0x7FF0, 0x7FF1, 0x7FFF })
                {
                    var e = raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.ExportDmaBuf).U32(0).U16(id).U32Array(refs));
                    Assert.Equal(Errno.EINVAL, e.Errno);
                    Assert.Contains("reserved", e.Detail);
                    Assert.Equal(Errno.EINVAL, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.MapGrantRefs).U16(id).U8(1).U32Array(refs)).Errno);
                }
                Assert.False(t.Frontend.IsInUse(refs[0]));
            }),
            ["socket: import counts 0, negative and over the limit"] = t => t.OverSocket(raw =>
            {
                var alloc = raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.DeviceAllocateBuffer).Str("display").I32(1));
                Assert.Equal(Errno.None, alloc.Errno);
                int fd = alloc.Payload().I32("fd");
                foreach (int count in new[] { 0, -5, int.MinValue, PageLimit + 1 })
                    Assert.Equal(Errno.EINVAL, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.ImportDmaBuf).I32(fd).I32(count).U16(1)).Errno);
                Assert.Equal(Errno.EINVAL, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.DeviceAllocateBuffer).Str("display").I32(0)).Errno);
                Assert.Equal(Errno.None, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.CloseFd).I32(fd)).Errno);
            }),
            ["socket: both DMA flags and unknown indexes"] = t => t.OverSocket(raw =>
            {
                var refs = t._grants.Share(1);
                var both = raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.ExportDmaBuf).U32(3).U16(1).U32Array(refs));
                Assert.Equal(Errno.EINVAL, both.Errno);
                Assert.Equal(Errno.ENOENT, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.UnmapGrantRefs).U64(0x1000)).Errno);
                Assert.Equal(Errno.EINVAL, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.DeviceDetach).U64(42)).Errno);
            }),
            ["socket: another connection's fd numbers"] = t => t.OverSocket(raw =>
            {
                // The bystander's export fd number means nothing in this connection's process.
                int fd = t._bystander!.Export.Fd;
                var wait = raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.WaitReleased).I32(fd).U32(0));
                Assert.Equal((byte)WaitReleasedResult.NotFound, wait.Payload().U8("result"));
                Assert.Equal(Errno.EBADF, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.ImportDmaBuf).I32(fd).I32(2).U16(1)).Errno);
                Assert.Equal(Errno.EBADF, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.CloseFd).I32(fd)).Errno);
                Assert.Equal(Errno.EBADF, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.DeviceAttach).Str("display").I32(fd)).Errno);
            }),
            ["socket: closing the connection's own gntdev fd"] = t => t.OverSocket(raw =>
            {
                var ledger = raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.Ledger));
                Assert.Equal(Errno.None, ledger.Errno);
                var close = raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.CloseFd).I32(3)); // the instance's fd
                Assert.Equal(Errno.EINVAL, close.Errno);
                Assert.Equal(Errno.None, raw.Call(FrameWriter.Request(raw.NextId(), SimulatorOpcode.Ledger)).Errno); // still usable
            }),
        };

    // ---------------------------------------------------------------------------------------------
    // Harness
    // ---------------------------------------------------------------------------------------------

    private Bystander? _bystander;

    /// <summary>Runs <paramref name="hostile"/>, which must be refused with exactly this code, errno and grant status, changing nothing in the simulator.</summary>
    private async Task Refused(ErrorCode code, Errno? errno, GrantStatus? status, Func<Task> hostile)
    {
        var before = Sim.Ledger();
        var e = await Assert.ThrowsAsync<BufferActorsException>(hostile);
        Assert.Equal(code, e.Code);
        Assert.Equal(errno, e.Failure.Errno);
        Assert.Equal(status, e.Failure.GrantStatus);
        Assert.False(string.IsNullOrWhiteSpace(e.Failure.Detail));
        Assert.Empty(Sim.Ledger().DifferencesFrom(before));
    }

    /// <summary>A native call that must fail with <paramref name="errno"/> and change nothing.</summary>
    private void NativeFails(Errno errno, GrantStatus? status, Action call)
    {
        var before = Sim.Ledger();
        var e = Assert.ThrowsAny<GntdevException>(call);
        Assert.Equal(errno, e.Errno);
        Assert.Equal(status, e.GrantStatus);
        Assert.Empty(Sim.Ledger().DifferencesFrom(before));
    }

    private Task ReservedExport(ushort id)
    {
        var refs = _grants.Share(1);
        return Refused(ErrorCode.InvalidArgument, Errno.EINVAL, null, () => Client.ExportAsync(new DomainId(id), refs));
    }

    /// <summary>A device buffer in the backend process for the duration of <paramref name="body"/>.</summary>
    private async Task WithBuffer(int pages, Func<int, Task> body, DeviceMemoryKind kind = DeviceMemoryKind.System, int firstOffset = 0, long? sizeBytes = null)
    {
        int fd = Display.AllocateBuffer(Process, pages, kind, firstOffset, sizeBytes);
        try
        {
            await body(fd);
        }
        finally
        {
            Gntdev.CloseFd(fd);
        }
    }

    /// <summary>A raw connection to a server of this very simulator; closed (and its process gone) before returning.</summary>
    private Task OverSocket(Action<HostileSocketClient> body)
    {
        var path = Path.Combine(Path.GetTempPath(), $"ba-h-{Guid.NewGuid():N}"[..18] + ".sock");
        using (var server = new SimulatorServer(Sim, path))
        {
            server.Start();
            using (var raw = new HostileSocketClient(path))
            {
                raw.Hello();
                body(raw);
            }
            Assert.True(server.WaitForClosedConnections(1, Bound));
            Assert.Equal(0, server.ConnectionCount);
        }
        return Task.CompletedTask;
    }

    private async Task ReleaseExport(LifecycleId id)
    {
        await Client.ReleaseAsync(id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(id, Bound)); // NotFound = already released
    }

    /// <summary>Until the supervisor no longer counts <paramref name="id"/> (its quota is freed and commands get NotFound).</summary>
    private async Task AwaitGone(LifecycleId id) =>
        await AwaitAssertAsync(async () =>
            Assert.DoesNotContain(id, (await Client.SnapshotAsync()).Domains.SelectMany(d => d.Lifecycles)), Bound);

    private async Task<Bystander> StartBystander()
    {
        var refs = _grants.Share(2, from: _d2);
        var export = await Client.ExportAsync(Dom2, refs);
        var display = Display.Attach(Process, export.Fd);
        display.Map(DmaDirection.ToDevice);
        await Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);
        int bufferFd = Display.AllocateBuffer(Process, 1);
        var import = await Client.ImportAsync(Dom2, bufferFd, 1);
        int handle = _d2.MapForeign(DomainId.Dom0, import.Refs[0]);
        _bystander = new Bystander(this, refs, export, display, bufferFd, import, handle);
        return _bystander;
    }

    private sealed record BystanderState(LifecycleStatus Export, LifecycleStatus Import, bool Dead, int Buffers, long Pages, IReadOnlyList<LifecycleId> Lifecycles);

    private sealed class Bystander(HostileInputCorpusTests t, uint[] refs, ExportedBuffer.Exported export, DmaBufAttachment display,
        int bufferFd, ImportAttachment.Imported import, int handle)
    {
        public ExportedBuffer.Exported Export { get; } = export;
        public ImportAttachment.Imported Import { get; } = import;

        public async Task<BystanderState> Capture()
        {
            var d2 = (await t.Client.SnapshotAsync()).Domains.Single(d => d.Domain == Dom2);
            return new BystanderState(await t.Client.StatusAsync(Export.Id), await t.Client.StatusAsync(Import.Id), d2.Dead, d2.Buffers, d2.Pages, d2.Lifecycles);
        }

        public void AssertUntouched(BystanderState now, BystanderState before)
        {
            Assert.Equal(before.Export, now.Export);
            Assert.Equal(before.Import, now.Import);
            Assert.Equal("Exported", now.Export.State);
            Assert.Equal(1, now.Export.Attachments);
            Assert.False(now.Dead);
            Assert.Equal(before.Buffers, now.Buffers);
            Assert.Equal(before.Pages, now.Pages);
            Assert.Equal(before.Lifecycles, now.Lifecycles);
            Assert.All(refs, r => Assert.True(t._d2.IsInUse(r), $"d2 ref {r} no longer mapped"));
            Assert.False(display.IsDetached);
            Assert.Equal(DmaDirection.ToDevice, display.Direction);
            Assert.False(display.Buffer.IsReleased);
            Assert.Equal(1, t._d2.ForeignMappings);
            Assert.True(t._d2.IsAlive);
        }

        /// <summary>The bystander ends normally: d2 unmaps and the import is released, the display detaches and the export is released.</summary>
        public async Task TearDown()
        {
            t._d2.UnmapForeign(handle);
            await t.Client.ReleaseImportAsync(Import.Id);
            t.Gntdev.CloseFd(bufferFd);
            Assert.Equal(1, (await t.Client.ReleaseAsync(Export.Id)).PendingAttachments);
            display.Detach();
            Assert.Equal(0, (await t.Client.DetachAsync(Export.Id, "display")).Attachments);
            Assert.NotEqual(WaitReleasedResult.TimedOut, await t.Client.WaitReleasedAsync(Export.Id, Bound));
            Assert.All(refs, r => Assert.False(t._d2.IsInUse(r)));
        }
    }
}
