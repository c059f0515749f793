using System.CommandLine;
using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Supervision;
using BufferActors.Host.Daemon;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.Logging.Abstractions;

namespace BufferActors.Benchmarks;

/// <summary>
/// <c>socket</c>: the daemon's cost, on the simulator, in one process. (1) The round trip of a request over the
/// socket (<c>QUERY</c>), against a bare SOCK_SEQPACKET echo of the same frames measured in the same run. (2) A full
/// export lifecycle (export, release, close, wait) through the socket, against the same lifecycle through the
/// in-process API. (3) Many clients at once, each running lifecycles back to back: no error, and their aggregate
/// throughput against one client's.
/// </summary>
internal static class SocketBench
{
    public static Command Create()
    {
        var iterations = new Option<int>("--iterations") { DefaultValueFactory = _ => 20_000, Description = "Timed round trips, and timed lifecycles per path." };
        var pages = new Option<int>("--pages") { DefaultValueFactory = _ => 2025, Description = "Pages per exported buffer (2025 = 1080p)." };
        var clients = new Option<int>("--clients") { DefaultValueFactory = _ => 64, Description = "Clients in the concurrent phase." };
        var perClient = new Option<int>("--per-client") { DefaultValueFactory = _ => 1000, Description = "Lifecycles each client runs in the concurrent phase." };
        var command = new Command("socket", "The daemon over its socket: round trip, lifecycle vs in-process, many clients.") { iterations, pages, clients, perClient };
        command.SetAction(r => BenchReport.Run(r, (output, report) =>
            RunAsync(r.GetValue(iterations), r.GetValue(pages), r.GetValue(clients), r.GetValue(perClient), output, report)));
        return command;
    }

    private static async Task<int> RunAsync(int iterations, int pages, int clients, int perClient, TextWriter output, BenchReport report)
    {
        string folder = Directory.CreateTempSubdirectory("ba-bench-socket-").FullName;
        using var sim = new XenSimulator(new SimulatorOptions { GrantTableEntries = Math.Max(4096, pages * 2 + 64) });
        var frontends = Enumerable.Range(1, clients).Select(d => sim.CreateDomain((ushort)d, pages)).ToList();
        var refs = frontends.Select(f => f.GrantPages(DomainId.Dom0, f.AllocatePages(pages), pages)).ToList();
        var gntdev = sim.OpenGrantDevice(sim.StartProcess("bench"));
        var config = BufferActors.Actors.Hosting.BufferActorsHostingExtensions.InlineDispatchConfig("buffers")
            .WithFallback(ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        using var system = ActorSystem.Create("bench-socket", config);
        var client = new BufferActorsClient(system, system.ActorOf(BufferManager.Props(new DeviceSession(gntdev)), "buffers"));
        var policy = DaemonPolicy.OwnerOnly() with { MaxPages = long.MaxValue / 2, MaxPagesPerUid = long.MaxValue / 2, MaxLifecyclesPerUid = int.MaxValue };
        using var server = new DaemonServer(Path.Combine(folder, "bench.sock"), Convert.ToInt32("600", 8), client, gntdev, WireDevice.Simulator, policy, NullLogger.Instance);
        int failures = 0;
        try
        {
            output.WriteLine($"socket: {iterations:N0} iterations, {pages} pages per buffer, {clients} clients x {perClient:N0} lifecycles");

            // 1. Round trip: QUERY over the daemon, against an echo of the same frames over a socket pair.
            using (var c = DaemonClient.Connect(server.Path, WireCapabilities.Export))
            {
                var (handle, _, fd) = c.Export(1, refs[0]);
                for (int i = 0; i < iterations / 10; i++) c.Query(handle);
                var query = Latencies(iterations, () => c.Query(handle));
                var echo = EchoLatencies(iterations);
                var status = (await client.SnapshotAsync().ConfigureAwait(false)).Domains.SelectMany(d => d.Lifecycles).Single();
                var api = await LatenciesAsync(iterations, () => client.StatusAsync(status)).ConfigureAwait(false);
                output.WriteLine($"  round trip QUERY   {query}");
                output.WriteLine($"  bare echo          {echo}");
                output.WriteLine($"  in-process status  {api}");
                report.Add("api_status_p50_us", api.P50, "us");
                report.Add("socket_query_p50_us", query.P50, "us");
                report.Add("socket_query_p99_us", query.P99, "us");
                report.Add("socket_echo_p50_us", echo.P50, "us");
                report.Add("socket_query_p50_vs_echo", query.P50 / echo.P50, "ratio", "socket_echo_p50_us");
                c.Release(handle);
                fd.Dispose();
                c.WaitReleased(handle, 5000);
            }

            // 2. A lifecycle through the socket against the same through the in-process API.
            using (var c = DaemonClient.Connect(server.Path, WireCapabilities.Export))
            {
                void OverSocket()
                {
                    var (handle, _, fd) = c.Export(1, refs[0]);
                    c.Release(handle);
                    fd.Dispose();
                    if (!c.WaitReleased(handle, 5000)) throw new InvalidOperationException("an export was not released");
                }
                async Task InProcess()
                {
                    var exported = await client.ExportAsync(new DomainId(1), refs[0]).ConfigureAwait(false);
                    await client.ReleaseAsync(exported.Id).ConfigureAwait(false);
                    if (await client.WaitReleasedAsync(exported.Id, TimeSpan.FromSeconds(5)).ConfigureAwait(false) == WaitReleasedResult.TimedOut)
                        throw new InvalidOperationException("an export was not released");
                }
                int lifecycles = Math.Max(100, iterations / 10);
                for (int i = 0; i < lifecycles / 5; i++)
                {
                    OverSocket();
                    await InProcess().ConfigureAwait(false);
                }
                var socket = Latencies(lifecycles, OverSocket);
                var inProcess = await LatenciesAsync(lifecycles, InProcess).ConfigureAwait(false);
                output.WriteLine($"  lifecycle, socket  {socket}");
                output.WriteLine($"  lifecycle, API     {inProcess}");
                report.Add("socket_lifecycle_mean_us", socket.Mean, "us");
                report.Add("api_lifecycle_mean_us", inProcess.Mean, "us");
                report.Add("socket_lifecycle_vs_api", socket.Mean / inProcess.Mean, "ratio", "api_lifecycle_mean_us");
            }

            // 3. Many clients, each its own frontend, lifecycles back to back; against one client alone.
            double one = Throughput(1, perClient, server.Path, refs, ref failures);
            double many = Throughput(clients, perClient, server.Path, refs, ref failures);
            output.WriteLine($"  one client:  {one:N0} lifecycles/s");
            output.WriteLine($"  {clients} clients: {many:N0} lifecycles/s, {failures} failed");
            report.Add("socket_one_client_lifecycles_per_s", one, "lifecycles/s");
            report.Add("socket_many_clients_lifecycles_per_s", many, "lifecycles/s");
            report.Add("socket_many_vs_one_client", many / one, "ratio", "socket_one_client_lifecycles_per_s");
            report.Add("socket_many_clients_failures", failures, "count");
        }
        finally
        {
            server.Dispose();
            Directory.Delete(folder, recursive: true);
        }
        var ledger = sim.Ledger();
        output.WriteLine($"  after: {ledger.Exports} exports, {ledger.DmaBufs} dma-bufs live");
        return failures == 0 && ledger.Exports == 0 ? 0 : 1;
    }

    private static LatencySummary Latencies(int count, Action step)
    {
        var micros = new double[count];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            step();
            micros[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        return LatencySummary.Of(micros);
    }

    private static async Task<LatencySummary> LatenciesAsync(int count, Func<Task> step)
    {
        var micros = new double[count];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await step().ConfigureAwait(false);
            micros[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        return LatencySummary.Of(micros);
    }

    /// <summary>The floor: a QUERY frame to a thread that answers a STATUS frame at once, over a socket pair.</summary>
    private static LatencySummary EchoLatencies(int count)
    {
        var (a, b) = BufferActors.Native.Linux.SeqPacketSocket.Pair();
        var reply = WireCodec.Encode(1, new StatusReply(1, WireKind.Export, WireState.Exported, false, 1, 1));
        var echo = new Thread(() =>
        {
            var buffer = new byte[FrameHeader.Size + FrameHeader.MaxPayload];
            var fds = new List<Microsoft.Win32.SafeHandles.SafeFileHandle>();
            while (b.Receive(buffer, fds) > 0) b.Send(reply, []);
        })
        { IsBackground = true };
        echo.Start();
        var request = WireCodec.Encode(1, new HandleRequest(WireOpcode.Query, 1));
        var answer = new byte[FrameHeader.Size + FrameHeader.MaxPayload];
        var received = new List<Microsoft.Win32.SafeHandles.SafeFileHandle>();
        void RoundTrip()
        {
            a.Send(request, []);
            a.Receive(answer, received);
            WireCodec.Decode(answer.AsSpan(0, reply.Length), 0);
        }
        for (int i = 0; i < count / 10; i++) RoundTrip();
        var latencies = Latencies(count, RoundTrip);
        a.Dispose();
        echo.Join();
        b.Dispose();
        return latencies;
    }

    private static double Throughput(int clients, int perClient, string socket, List<uint[]> refs, ref int failures)
    {
        int failed = 0;
        var clock = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, clients).Select(i => new Thread(() =>
        {
            using var c = DaemonClient.Connect(socket, WireCapabilities.Export);
            for (int n = 0; n < perClient; n++)
            {
                try
                {
                    var (handle, _, fd) = c.Export((ushort)(i + 1), refs[i]);
                    c.Release(handle);
                    fd.Dispose();
                    if (!c.WaitReleased(handle, 10_000)) Interlocked.Increment(ref failed);
                }
                catch (DaemonRefusedException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        })
        { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        clock.Stop();
        failures += failed;
        return clients * perClient / clock.Elapsed.TotalSeconds;
    }
}
