using Akka.Actor;
using BufferActors.Actors.Api;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Actors;

/// <summary>
/// A lifecycle never names a kernel object by a number it does not own. WAIT_RELEASED and IMP_RELEASE find
/// their object by fd number, newest first (the real-kernel lane's reuse-* cases), and the process hands the
/// lowest free number to the next file: every test here makes a number come back on purpose, across two
/// frontends, and checks that no lifecycle acts on the other frontend's object.
/// </summary>
public sealed class FdNumberOwnershipTests : LifecycleTest
{
    private static readonly DomainId Dom2 = new(2);

    [Fact]
    public async Task ReleasingAnImportWhoseCallerClosedItsFd_NeverEndsTheImportThatReusedTheNumber()
    {
        var frontend2 = Sim.CreateDomain(2);
        var camera = Sim.AddDevice("camera");
        int x = camera.AllocateBuffer(Process, 2);
        var importA = await Client.ImportAsync(Dom1, x, 2);
        Process.Close(x); // the caller lets go of its fd at once, as it may
        int y = camera.AllocateBuffer(Process, 2);
        Assert.Equal(x, y); // the number came back, for frontend 2's buffer
        var importB = await Client.ImportAsync(Dom2, y, 2);

        await Client.ReleaseImportAsync(importA.Id);
        int mapped = frontend2.MapForeign(DomainId.Dom0, importB.Refs[0]); // B's grants are live
        frontend2.UnmapForeign(mapped);
        var ended = Assert.Throws<GntdevException>(() => Frontend.MapForeign(DomainId.Dom0, importA.Refs[0]));
        Assert.Equal(GrantStatus.BadGntref, ended.GrantStatus); // A's are ended

        await Client.ReleaseImportAsync(importB.Id);
        Process.Close(y);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AnExportGivenUpWhileHeldKeepsItsNumber_SoItsProbeNeverFindsTheNextExport()
    {
        var frontend2 = Sim.CreateDomain(2);
        var a = await Client.ExportAsync(Dom1, Share(2));
        var holder = Display.Attach(Process, a.Fd); // a holder BufferActors was not told about
        await Client.ReleaseAsync(a.Id);            // A gives up its reference and polls
        var b = await Client.ExportAsync(Dom2, Share(2, frontend2));
        Assert.NotEqual(a.Fd, b.Fd); // A's number is still taken, by its placeholder

        var waitA = Client.WaitReleasedAsync(a.Id, TimeSpan.FromSeconds(5));
        holder.Detach();
        Assert.Equal(WaitReleasedResult.Released, await waitA);
        Assert.Equal(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(b.Id, TimeSpan.FromMilliseconds(50)));

        await Client.ReleaseAsync(b.Id);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AnExportWhoseLifecycleEndsWhileHeld_IsParked_AndItsNumberFreedOnlyOnceReleased()
    {
        var a = await Client.ExportAsync(Dom1, Share(2));
        var holder = Display.Attach(Process, a.Fd);
        // Stopped by its supervisor (as after a fault) while the display holds the buffer.
        var lifecycle = await Sys.ActorSelection($"/user/buffers/domain-1/{a.Id.ActorName}").ResolveOne(TimeSpan.FromSeconds(3));
        Watch(lifecycle);
        Sys.Stop(lifecycle);
        ExpectTerminated(lifecycle);
        await AwaitNoLiveLifecycles();
        Assert.Equal(1, Session.ParkedNumbers);
        Assert.Equal(0, Session.ReapParkedNumbers()); // the display still holds it: the number stays taken
        int next = Process.OpenPlainFile("probe");
        Assert.NotEqual(a.Fd, next);
        Process.Close(next);

        holder.Detach();
        Assert.Equal(1, Session.ReapParkedNumbers());
        Assert.Equal(0, Session.ParkedNumbers);
        AssertLedgerAtBaseline();
    }
}
