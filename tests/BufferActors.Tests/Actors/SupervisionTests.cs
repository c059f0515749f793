using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

/// <summary>
/// An exception in any message handler of any lifecycle actor (the start included) stops it, and its
/// PostStop releases what it held exactly once: the ledger returns to baseline every time.
/// </summary>
public sealed class SupervisionTests
{
    public static TheoryData<LifecycleKind, string> Handlers => new()
    {
        { LifecycleKind.Export, nameof(ExportedBuffer.Export) },
        { LifecycleKind.Export, ReusedExport },
        { LifecycleKind.Export, nameof(ExportedBuffer.Attach) },
        { LifecycleKind.Export, nameof(ExportedBuffer.Detach) },
        { LifecycleKind.Export, nameof(ExportedBuffer.Release) },
        { LifecycleKind.Export, nameof(ExportedBuffer.WaitReleased) },
        { LifecycleKind.Export, "WaitExpired" },
        { LifecycleKind.Export, "Get" },
        { LifecycleKind.Import, nameof(ImportAttachment.Import) },
        { LifecycleKind.Import, nameof(ImportAttachment.Release) },
        { LifecycleKind.Import, "Get" },
        { LifecycleKind.Map, nameof(GrantMap.Map) },
        { LifecycleKind.Map, nameof(GrantMap.Unmap) },
        { LifecycleKind.Map, "Get" },
    };

    /// <summary>The start of an export on an actor that ran a lifecycle before (the harness's second export).</summary>
    private const string ReusedExport = "Export, on a reused actor";

    [Theory]
    [MemberData(nameof(Handlers))]
    public async Task AThrowingHandlerReleasesEverythingExactlyOnce(LifecycleKind kind, string handler)
    {
        int hits = 0;
        using var test = new Harness((id, name) =>
        {
            if (handler == ReusedExport ? name != nameof(ExportedBuffer.Export) || id.Sequence == 1 : name != handler) return;
            Interlocked.Increment(ref hits);
            throw new InvalidOperationException($"injected failure in {handler}");
        });
        await test.Run(kind);
        Assert.True(hits > 0, $"the {handler} handler was never reached");
    }

    public static TheoryData<LifecycleKind, string> AnsweringHandlers => new()
    {
        { LifecycleKind.Export, nameof(ExportedBuffer.Export) },
        { LifecycleKind.Import, nameof(ImportAttachment.Import) },
        { LifecycleKind.Map, nameof(GrantMap.Map) },
        { LifecycleKind.Export, nameof(ExportedBuffer.Attach) },
        { LifecycleKind.Export, nameof(ExportedBuffer.Release) },
        { LifecycleKind.Export, "Get" },
        { LifecycleKind.Import, nameof(ImportAttachment.Release) },
        { LifecycleKind.Map, nameof(GrantMap.Unmap) },
    };

    [Theory]
    [MemberData(nameof(AnsweringHandlers))]
    public async Task TheCallerOfAThrowingHandlerHearsTheLifecycleStopped_NotATimeout(LifecycleKind kind, string handler)
    {
        using var test = new Harness((_, name) =>
        {
            if (name == handler) throw new InvalidOperationException($"injected failure in {handler}");
        });
        await test.AskTheFailingHandler(kind, handler);
    }

    private sealed class Harness(Action<LifecycleId, string> checkpoint) : LifecycleTest(checkpoint: checkpoint), IDisposable
    {
        public async Task Run(LifecycleKind kind)
        {
            LifecycleId id;
            switch (kind.Name)
            {
                case "export":
                    // A first lifecycle that finishes, so that the next export runs in its actor, reused.
                    if (await Started(Client.ExportAsync(Dom1, Share(1), DmaBufFlags.WriteCombine)) is { } first)
                    {
                        _ = Client.ReleaseAsync(first.Id).ContinueWith(_ => { });
                        await AwaitNoLiveLifecycles();
                    }
                    if (await Started(Client.ExportAsync(Dom1, Share(3), DmaBufFlags.WriteCombine)) is not { } export) break;
                    id = export.Id;
                    _ = Client.AttachAsync(id, "display", DmaDirection.ToDevice).ContinueWith(_ => { });
                    _ = Client.DetachAsync(id, "display").ContinueWith(_ => { });
                    var wait = Client.WaitReleasedAsync(id, TimeSpan.FromMilliseconds(20)).ContinueWith(_ => { });
                    _ = Client.StatusAsync(id).ContinueWith(_ => { });
                    await wait; // its deadline passes (or a failure answers it) before the release
                    _ = Client.ReleaseAsync(id).ContinueWith(_ => { });
                    break;
                case "import":
                    int fd = Sim.AddDevice("camera").AllocateBuffer(Process, 2);
                    var import = await Started(Client.ImportAsync(Dom1, fd, 2));
                    Gntdev.CloseFd(fd);
                    if (import is null) break;
                    id = import.Id;
                    _ = Client.StatusAsync(id).ContinueWith(_ => { });
                    _ = Client.ReleaseImportAsync(id).ContinueWith(_ => { });
                    break;
                default:
                    if (await Started(Client.MapAsync(Dom1, Share(2))) is not { } map) break;
                    id = map.Id;
                    _ = Client.StatusAsync(id).ContinueWith(_ => { });
                    _ = Client.UnmapAsync(id).ContinueWith(_ => { });
                    break;
            }
            await AwaitNoLiveLifecycles();
            AssertLedgerAtBaseline();
        }

        /// <summary>The started lifecycle's answer, or null when its start failed and the asker heard Stopped.</summary>
        private static async Task<T?> Started<T>(Task<T> start) where T : class
        {
            try
            {
                return await start;
            }
            catch (BufferActorsException e) when (e.Code == ErrorCode.Stopped)
            {
                return null; // nothing was started: the asker was answered, nothing is held
            }
        }

        /// <summary>Starts a lifecycle of <paramref name="kind"/> and sends the one request whose handler throws.</summary>
        public async Task AskTheFailingHandler(LifecycleKind kind, string handler)
        {
            Task request;
            switch (kind.Name)
            {
                case "export" when handler == nameof(ExportedBuffer.Export):
                    request = Client.ExportAsync(Dom1, Share(3), DmaBufFlags.WriteCombine);
                    break;
                case "export":
                    var export = await Client.ExportAsync(Dom1, Share(3), DmaBufFlags.WriteCombine);
                    request = handler switch
                    {
                        nameof(ExportedBuffer.Attach) => Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice),
                        nameof(ExportedBuffer.Release) => Client.ReleaseAsync(export.Id),
                        _ => Client.StatusAsync(export.Id),
                    };
                    break;
                case "import":
                    int fd = Sim.AddDevice("camera").AllocateBuffer(Process, 2);
                    var importing = Client.ImportAsync(Dom1, fd, 2);
                    if (handler == nameof(ImportAttachment.Import))
                    {
                        request = importing;
                        await Task.WhenAny(importing); // the import's answer first, then the device buffer goes
                        Gntdev.CloseFd(fd);
                        break;
                    }
                    var import = await importing;
                    Gntdev.CloseFd(fd);
                    request = Client.ReleaseImportAsync(import.Id);
                    break;
                default:
                    var mapping = Client.MapAsync(Dom1, Share(2));
                    request = handler == nameof(GrantMap.Map) ? mapping : Client.UnmapAsync((await mapping).Id);
                    break;
            }
            // The client's timeout is 5 s: a caller left unanswered would see a TimeoutException instead.
            var failure = await Assert.ThrowsAsync<BufferActorsException>(() => request);
            Assert.Equal(ErrorCode.Stopped, failure.Code);
            await AwaitNoLiveLifecycles();
            AssertLedgerAtBaseline();
        }

        void IDisposable.Dispose() => Shutdown();
    }
}
