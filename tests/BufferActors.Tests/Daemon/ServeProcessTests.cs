using BufferActors.Host.Daemon.Protocol;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// <c>bufferactors serve --device simulator</c> as a process: it prints its frontends' refs and a ready line once the
/// socket is bound, serves a client, and SIGTERM stops it cleanly (exit 0, socket file gone).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ServeProcessTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-serve-proc-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task TheDaemonServesAClient_AndStopsCleanlyOnSigterm()
    {
        using var daemon = await ServeProcess.StartAsync(Path.Combine(_folder, "serve.sock"), "--frontends", "1", "--pages", "4");
        var refs = daemon.Frontends[1];
        Assert.Equal(4, refs.Length);

        using (var c = WireClient.Connect(daemon.Socket))
        {
            Assert.Equal(WireDevice.Simulator, c.Hello().Device);
            var (reply, fd) = c.Call(new ExportRequest(1, 0, refs));
            var exported = Assert.IsType<ExportedReply>(reply);
            Assert.Equal(4u, exported.PageCount);
            c.Call(new HandleRequest(WireOpcode.Release, exported.Handle));
            fd!.Dispose();
            Assert.NotEqual(HandleReply.TimedOut, Assert.IsType<HandleReply>(c.Call(new WaitReleasedRequest(exported.Handle, 5000)).Reply).Value);
        }

        await daemon.StopAsync();
        Assert.True(daemon.ExitCode == 0, $"exit {daemon.ExitCode}: {daemon.Log}");
        Assert.False(File.Exists(daemon.Socket));
    }

    [Fact]
    public async Task AnOperatorReleasesADestroyedDomain_WhatADeviceHoldsStaysTracked_AndTheIdServesAgain()
    {
        using var daemon = await ServeProcess.StartAsync(Path.Combine(_folder, "serve.sock"), "--frontends", "1", "--pages", "3");
        var before = daemon.Status().Simulator;
        using var c = WireClient.Connect(daemon.Socket);
        c.Hello(WireCapabilities.Export | WireCapabilities.Events);
        c.Call(new SubscribeRequest(WireEvents.FrontendDied));
        var (reply, held) = c.Call(new ExportRequest(1, 0, daemon.Frontends[1]));
        var exported = Assert.IsType<ExportedReply>(reply);
        c.Call(new HandleRequest(WireOpcode.Release, exported.Handle)); // the client keeps the descriptor: a device holding it

        var (exit, output) = await HostProcess.RunAsync("release-domain", "--socket", daemon.Socket, "1");
        Assert.True(exit == 0, output);
        Assert.Contains("domain 1 released (its lifecycles are ended now); 1 lifecycle(s) of 3 page(s) still held", output, StringComparison.Ordinal);
        Assert.Equal(new FrontendDiedEvent(1), c.Next(TimeSpan.FromSeconds(5))!.Value.Message);

        var status = daemon.Status();
        var tracked = Assert.Single(status.Domains);
        Assert.Equal((1, true, true, 1, 3L), (tracked.Domid, tracked.Dead, tracked.Released, tracked.Exports, tracked.Pages));
        // The id serves a new domain: not refused DomainDead.
        var (again, againFd) = c.Call(new ExportRequest(1, 0, daemon.Frontends[1]));
        var second = Assert.IsType<ExportedReply>(again);
        c.Call(new HandleRequest(WireOpcode.Release, second.Handle));
        againFd!.Dispose();
        Assert.NotEqual(HandleReply.TimedOut, Assert.IsType<HandleReply>(c.Call(new WaitReleasedRequest(second.Handle, 5000)).Reply).Value);

        (exit, output) = await HostProcess.RunAsync("release-domain", "--socket", daemon.Socket, "32752", "--json");
        Assert.True(exit == 1, output);
        Assert.Contains("InvalidArgument", output, StringComparison.Ordinal);

        // The status verb shows the same: the destroyed domain, released, with what is still held.
        (exit, output) = await HostProcess.RunAsync("status", "--socket", daemon.Socket);
        Assert.True(exit == 0, output);
        Assert.Contains("destroyed, released", output, StringComparison.Ordinal);
        (exit, output) = await HostProcess.RunAsync("status", "--socket", Path.Combine(_folder, "nobody.sock"), "--json");
        Assert.True(exit == 2, output);
        Assert.Contains("status: ", output, StringComparison.Ordinal);

        held!.Dispose(); // the device lets go
        var after = await daemon.StatusWhenAsync(s => s.Live == 0 && s.Simulator == before);
        Assert.Empty(after.Domains);
        Assert.Equal(before, after.Simulator);
        await daemon.StopAsync();
    }

    [Fact]
    public async Task TheMetricsEndpointShowsTheMeter_AsTheLifecyclesMove()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var daemon = await ServeProcess.StartAsync(Path.Combine(_folder, "serve.sock"), "--frontends", "1", "--pages", "3", "--metrics-listen", $"127.0.0.1:{port}");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        using var c = WireClient.Connect(daemon.Socket);
        c.Hello();
        var (reply, fd) = c.Call(new ExportRequest(1, 0x1, daemon.Frontends[1])); // write-combining: lowers the reservation
        var exported = Assert.IsType<ExportedReply>(reply);

        string held = await http.GetStringAsync("metrics");
        Assert.Contains("bufferactors_lifecycles_live{otel_scope_name=\"BufferActors\",domain=\"1\",kind=\"export\"} 1", held, StringComparison.Ordinal);
        Assert.Contains("bufferactors_pages{otel_scope_name=\"BufferActors\",domain=\"1\",kind=\"export\"} 3", held, StringComparison.Ordinal);
        Assert.Contains("bufferactors_reservation_pages{otel_scope_name=\"BufferActors\",domain=\"1\"} 3", held, StringComparison.Ordinal);
        Assert.Contains("bufferactors_export_duration_seconds_count{otel_scope_name=\"BufferActors\"} 1", held, StringComparison.Ordinal);

        c.Call(new HandleRequest(WireOpcode.Release, exported.Handle));
        fd!.Dispose();
        Assert.NotEqual(HandleReply.TimedOut, Assert.IsType<HandleReply>(c.Call(new WaitReleasedRequest(exported.Handle, 5000)).Reply).Value);
        string after = "";
        for (int i = 0; i < 50 && !after.Contains("kind=\"export\"} 0", StringComparison.Ordinal); i++)
        {
            await Task.Delay(100); // the exporter caches a scrape briefly
            after = await http.GetStringAsync("metrics");
        }
        Assert.Contains("bufferactors_lifecycles_live{otel_scope_name=\"BufferActors\",domain=\"1\",kind=\"export\"} 0", after, StringComparison.Ordinal);
        Assert.Contains("bufferactors_reservation_pages{otel_scope_name=\"BufferActors\",domain=\"1\"} 0", after, StringComparison.Ordinal);
        await daemon.StopAsync();
    }

    [RootFact]
    public async Task TheSocketFileHasTheConfiguredGroupAndMode()
    {
        using var daemon = await ServeProcess.StartAsync(Path.Combine(_folder, "serve.sock"), "--frontends", "1", "--pages", "1", "--group", "65534", "--mode", "660");
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%g %a", daemon.Socket]) { RedirectStandardOutput = true })!;
        string owner = (await stat.StandardOutput.ReadToEndAsync()).Trim();
        await stat.WaitForExitAsync();
        Assert.Equal("65534 660", owner);
        await daemon.StopAsync();
    }
}
