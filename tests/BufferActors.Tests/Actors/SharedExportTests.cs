using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

/// <summary>
/// An export whose requester asked for its own descriptor (what a daemon hands its client): the descriptor comes
/// with the export's answer, and the buffer is released only once the lifecycle and that descriptor both let go.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SharedExportTests : LifecycleTest
{
    [Fact]
    public async Task TheSharedDescriptorHoldsTheBufferPastTheLifecyclesRelease_ItsCloseReleasesIt()
    {
        var export = await Client.ExportSharedAsync(Dom1, Share(2), DmaBufFlags.WriteCombine);
        var shared = Assert.IsType<Microsoft.Win32.SafeHandles.SafeFileHandle>(export.Shared);
        Assert.False(shared.IsInvalid);
        long reservation = Sim.Ledger().ReservationPages;

        await Client.ReleaseAsync(export.Id);
        // The lifecycle gave up its reference; the requester's descriptor still holds the buffer and its reservation.
        Assert.Equal(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(export.Id, TimeSpan.Zero));
        Assert.Equal(1, Sim.Ledger().Exports);
        Assert.Equal(reservation, Sim.Ledger().ReservationPages);

        var released = Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(10));
        shared.Dispose();
        Assert.NotEqual(WaitReleasedResult.TimedOut, await released);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AnExportWhoseDescriptorCannotBeMade_IsRefused_AndHoldsNothing()
    {
        var device = new CountingDevice(Gntdev) { RefuseShares = true };
        var client = new BufferActorsClient(Sys, Sys.ActorOf(BufferActors.Actors.Supervision.BufferManager.Props(new DeviceSession(device)), "buffers-refusing"));
        var refused = await Assert.ThrowsAsync<BufferActorsException>(() => client.ExportSharedAsync(Dom1, Share(2), DmaBufFlags.Coherent));
        Assert.Equal(ErrorCode.Device, refused.Code);
        Assert.Equal(24, (int?)refused.Failure.Errno);
        // The export the device made is gone again, with its reservation: nothing is held.
        Assert.Equal(0, Sim.Ledger().Exports);
        Assert.Equal(Baseline.ReservationPages, Sim.Ledger().ReservationPages);
        AssertLedgerAtBaseline();
    }
}
