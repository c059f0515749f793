using System.Diagnostics;
using BufferActors.Host.Daemon;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using BufferActors.Native.Linux;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// The C client and the examples against <c>bufferactors serve --device simulator</c> as processes: the golden frames
/// on the C side, the display-backend example (plain and under ASan/UBSan), the status before and after, a client
/// killed with SIGKILL, the .NET client, and peers of another uid (run with setpriv).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ClientExampleTests(CClientBuild build) : IClassFixture<CClientBuild>, IDisposable
{
    private const string Nobody = "65534";
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-client-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheCClientWritesAndReadsEveryGoldenFrameOfTheProtocolDocument(bool sanitized)
    {
        var (exit, output, errors) = await RunAsync(Program("golden-frames", sanitized), RepositoryFiles.Path("docs/protocol.md"));
        Assert.True(exit == 0, output + errors);
        Assert.Contains("31 frames agree", output, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheDisplayBackendExampleExportsReleasesAndWaits_AndTheDaemonEndsAsItBegan(bool sanitized)
    {
        using var daemon = await ServeProcess.StartAsync(Path.Combine(_folder, "s.sock"), "--frontends", "2", "--pages", "4");
        var before = daemon.Status();
        Assert.Equal(0, before.Live);

        var (exit, output, errors) = await RunAsync(Program("display-backend", sanitized), daemon.Socket, "2", string.Join(',', daemon.Frontends[2]));

        Assert.True(exit == 0, $"{output}{errors}\n{daemon.Log}");
        Assert.Contains("pattern checked on 4 pages", output, StringComparison.Ordinal); // through a read-only map, handle 1
        Assert.Contains("exported handle 2: 16384 bytes", output, StringComparison.Ordinal);
        Assert.Contains("released handle 2", output, StringComparison.Ordinal);
        Assert.Contains("event: handle 2 released", output, StringComparison.Ordinal);
        var after = await daemon.StatusWhenAsync(s => s.Clients == 1);
        Assert.Equal((0, 0L, 1), (after.Live, after.Pages, after.Clients));
        Assert.Equal(before.Simulator, after.Simulator);
    }

    [SkippableFact]
    public async Task AClientKilledWithSigkill_HasItsLifecyclesEnded_AndTheLedgerReturnsToItsStart()
    {
        using var daemon = await ServeProcess.StartAsync(Path.Combine(_folder, "s.sock"), "--frontends", "1", "--pages", "4");
        var before = daemon.Status();
        using var client = Start(Program("display-backend", false), daemon.Socket, "1", string.Join(',', daemon.Frontends[1]), "--hold");
        await ReadUntilAsync(client, "holding");

        var holding = daemon.Status();
        Assert.Equal((2, 2, 8L), (holding.Live, holding.ClientLifecycles, holding.Pages));
        var domain = Assert.Single(holding.Domains);
        Assert.Equal((1, 1), (domain.Exports, domain.Maps));
        Assert.NotEqual(before.Simulator, holding.Simulator);

        client.Kill();
        await client.WaitForExitAsync();
        var after = await daemon.StatusWhenAsync(s => s.Live == 0 && s.Simulator == before.Simulator);
        Assert.Equal((0, 0, 0L), (after.Live, after.ClientLifecycles, after.Pages));
        Assert.Equal(before.Simulator, after.Simulator);
    }

    [SkippableFact]
    public async Task TheDotNetClientRunsTheSameBackendSteps()
    {
        using var daemon = await ServeProcess.StartAsync(Path.Combine(_folder, "s.sock"), "--frontends", "1", "--pages", "4");
        var before = daemon.Status().Simulator;
        using var client = DaemonClient.Connect(daemon.Socket, WireCapabilities.Export | WireCapabilities.Map | WireCapabilities.Events);
        Assert.Equal(WireDevice.Simulator, client.Session.Device);

        // A writable map shows the frontend's pattern, and what the backend writes through it reaches the frontend.
        var (map, mapPages, offset, file) = client.Map(1, daemon.Frontends[1], readOnly: false);
        Assert.Equal((4u, WireKind.Map, WireState.Mapped), (mapPages, client.Query(map).Kind, client.Query(map).State));
        using (file)
        using (var region = SharedMemory.MapShared((int)file.DangerousGetHandle(), (long)offset, mapPages * PageView.PageSize, writable: true))
        {
            for (int p = 0; p < 4; p++) Assert.Equal((byte)(16 + p + 7), region.Slice((long)p * PageView.PageSize, PageView.PageSize)[7]);
            region.Slice(PageView.PageSize, PageView.PageSize)[7] = 0xEE;
        }
        client.Unmap(map);
        Assert.Equal(WireErrorCode.NotFound, Assert.Throws<DaemonRefusedException>(() => client.Unmap(map)).Error.Code);
        var (readOnly, _, readOffset, readFile) = client.Map(1, daemon.Frontends[1], readOnly: true);
        using (readFile)
        {
            int fd = (int)readFile.DangerousGetHandle();
            Assert.ThrowsAny<NativeCallException>(() => SharedMemory.MapShared(fd, (long)readOffset, 4 * PageView.PageSize, writable: true));
            using var region = SharedMemory.MapShared(fd, (long)readOffset, 4 * PageView.PageSize, writable: false);
            Assert.Equal(0xEE, region.Slice(PageView.PageSize, PageView.PageSize)[7]);
        }
        client.Unmap(readOnly);

        // A write-combining export is DMA-able memory: it lowers the daemon's reservation, which the status counts.
        var (wc, _, wcBuffer) = client.Export(1, daemon.Frontends[1], flags: 0x1);
        var lowered = daemon.Status();
        Assert.Equal((4L, 4L), (lowered.ReservationPages, Assert.Single(lowered.Domains).ReservationPages));
        client.Release(wc);
        wcBuffer.Dispose();
        Assert.True(client.WaitReleased(wc, 5000));
        Assert.Equal(0L, daemon.Status().ReservationPages);

        var (handle, pages, dmaBuf) = client.Export(1, daemon.Frontends[1]);
        Assert.Equal(4u, pages);
        Assert.Equal(WireState.Exported, client.Query(handle).State);
        client.Release(handle);
        Assert.False(client.WaitReleased(handle, 0)); // the descriptor still holds the buffer
        dmaBuf.Dispose();
        Assert.True(client.WaitReleased(handle, 5000));
        Assert.Equal(WireErrorCode.NotFound, Assert.Throws<DaemonRefusedException>(() => client.Query(handle)).Error.Code);
        Assert.Equal(WireErrorCode.NotPermitted, Assert.Throws<DaemonRefusedException>(() => client.DaemonStatus()).Error.Code);
        Assert.Equal(WireErrorCode.NotPermitted, Assert.Throws<DaemonRefusedException>(() => client.ReleaseDomain(1)).Error.Code); // not asked for
        client.Dispose();
        var after = await daemon.StatusWhenAsync(s => s.Clients == 1 && s.Simulator == before);
        Assert.Equal((0, before), (after.Live, after.Simulator));
    }

    [RootFact]
    public async Task AUidTheDaemonDoesNotKnowIsRefused()
    {
        using var daemon = await ServeProcess.StartAsync(Path.Combine(_folder, "s.sock"), "--frontends", "1", "--pages", "1", "--mode", "666");
        OpenToEveryone();

        var (_, output, _) = await RunAsync("setpriv", [.. AsNobody, Program("peer-probe", false), daemon.Socket, "connect"]);

        Assert.Contains($"connect -{1000 + 100}", output, StringComparison.Ordinal); // BUFFERACTORS_EGOODBYE
        await daemon.LoggedAsync($"uid {Nobody}");
    }

    [RootFact]
    public async Task AnotherUidActsOnlyForItsDomains_AndCannotTouchAnotherClientsLifecycle()
    {
        using var daemon = await ServeProcess.StartAsync(Path.Combine(_folder, "s.sock"), "--frontends", "2", "--pages", "1", "--mode", "666", "--allow", $"{Nobody}:2");
        OpenToEveryone();
        var before = daemon.Status().Simulator;
        using var owner = DaemonClient.Connect(daemon.Socket, WireCapabilities.Export);
        var (handle, _, dmaBuf) = owner.Export(1, daemon.Frontends[1]);

        var (_, touch, errors) = await RunAsync("setpriv", [.. AsNobody, Program("peer-probe", false), daemon.Socket, "touch", handle.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(touch.Contains("connect 0", StringComparison.Ordinal), touch + errors);
        Assert.Contains("capabilities 1", touch, StringComparison.Ordinal); // export only: no daemon status or domain release for it
        foreach (var what in new[] { "query", "wait", "release" }) Assert.Contains($"{what} -{1000 + 2}", touch, StringComparison.Ordinal); // NotFound
        Assert.Contains("daemon-status -1", touch, StringComparison.Ordinal);
        Assert.Contains($"release-domain -{1000 + 9}", touch, StringComparison.Ordinal); // NotPermitted: domain 1 stays served

        var (_, foreign, _) = await RunAsync("setpriv", [.. AsNobody, Program("peer-probe", false), daemon.Socket, "export", "1", daemon.Frontends[1][0].ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Contains($"export -{1000 + 9}", foreign, StringComparison.Ordinal); // NotPermitted: domain 1 is not its
        var (_, own, _) = await RunAsync("setpriv", [.. AsNobody, Program("peer-probe", false), daemon.Socket, "export", "2", daemon.Frontends[2][0].ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Contains("export 0", own, StringComparison.Ordinal);
        Assert.Contains("wait 0", own, StringComparison.Ordinal);

        // The owner's export went through all of it untouched.
        Assert.Equal(WireState.Exported, owner.Query(handle).State);
        owner.Release(handle);
        dmaBuf.Dispose();
        Assert.True(owner.WaitReleased(handle, 5000));
        owner.Dispose();
        var after = await daemon.StatusWhenAsync(s => s.Clients == 1 && s.Live == 0 && s.Simulator == before);
        Assert.Equal((0, before), (after.Live, after.Simulator));
    }

    private static string[] AsNobody => ["--reuid", Nobody, "--regid", Nobody, "--clear-groups"];

    private void OpenToEveryone() => File.SetUnixFileMode(_folder, (UnixFileMode)Convert.ToInt32("755", 8));

    private string Program(string name, bool sanitized)
    {
        build.Require();
        return Path.Combine(sanitized ? build.Sanitized : build.Plain, name);
    }

    private static Process Start(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0";
        return Process.Start(start)!;
    }

    private static async Task<(int Exit, string Output, string Errors)> RunAsync(string file, params string[] args)
    {
        using var process = Start(file, args);
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output, await errors);
    }

    private static async Task ReadUntilAsync(Process process, string word)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == word) seen.TrySetResult();
            else if (e.Data is null) seen.TrySetException(new InvalidOperationException($"the client ended before '{word}'"));
        };
        process.BeginOutputReadLine();
        await seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
