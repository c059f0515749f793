using BufferActors.Actors.Api;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

/// <summary>A WaitReleased whose own handler throws still gets its one answer (from PostStop), not a timeout.</summary>
public sealed class ThrowingWaitTests() : LifecycleTest(checkpoint: (_, handler) =>
{
    if (handler == "WaitReleased") throw new InvalidOperationException("injected failure in WaitReleased");
})
{
    [Fact]
    public async Task TheWaiterIsAnsweredWhenItsHandlerThrows()
    {
        var export = await Client.ExportAsync(Dom1, Share(2));
        var started = DateTime.UtcNow;
        var result = await Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(30));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "answered by PostStop, not timed out");
        Assert.Equal(WaitReleasedResult.Released, result); // the failed lifecycle closed its fd: nothing else held it
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }
}
