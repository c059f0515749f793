using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using BufferActors.Actors.Diagnostics;
using BufferActors.Native.Linux;

namespace BufferActors.Conformance;

/// <summary>
/// <c>bufferactors doctor</c>'s probe and judgement inside the lane's dom0, once with the lane's gntdev (built with
/// dma-buf support) and once with Debian's own (without): each run prints one <c>BA-DOCTOR</c> line, and
/// <see cref="Verdict"/> checks what each must have found.
/// </summary>
internal static class DoctorRun
{
    /// <summary>The lane's module, with CONFIG_XEN_GNTDEV_DMABUF.</summary>
    public const string DmaBufModule = "gntdev-dmabuf";

    /// <summary>Debian's module, without it.</summary>
    public const string DebianModule = "gntdev-debian";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>Probes this machine and prints the report for the linux mode, labelled with the module loaded.</summary>
    public static int Run(string module, TextWriter output)
    {
        var answers = MachineProbe.Probe(LinuxGrantDevice.DefaultPath, null);
        var report = DoctorReport.Evaluate(answers, "linux");
        output.WriteLine("BA-DOCTOR " + JsonSerializer.Serialize(new { module, report, answers }, Json));
        return 0;
    }

    /// <summary>
    /// What both runs must have found (in the console's <c>BA-DOCTOR</c> lines): with the lane's module the dma-buf
    /// ioctls and exports, DMA-able backing unavailable (the kernel lacks XEN_GRANT_DMA_ALLOC) and the mode able to
    /// run; with Debian's, no dma-buf ioctls (ENOTTY) and the mode unable to run.
    /// </summary>
    public static JsonObject Verdict(IEnumerable<string> lines)
    {
        var runs = lines.Select(l => JsonNode.Parse(l)!.AsObject()).ToDictionary(r => r["module"]!.GetValue<string>());
        var problems = new JsonArray();
        string? Outcome(JsonObject run, string check) =>
            run["report"]!["findings"]!.AsArray().FirstOrDefault(f => f!["check"]!.GetValue<string>().StartsWith(check, StringComparison.Ordinal))?["outcome"]?.GetValue<string>();
        string? Evidence(JsonObject run, string check) =>
            run["report"]!["findings"]!.AsArray().FirstOrDefault(f => f!["check"]!.GetValue<string>().StartsWith(check, StringComparison.Ordinal))?["evidence"]?.GetValue<string>();
        void Expect(bool holds, string what)
        {
            if (!holds) problems.Add(what);
        }

        if (runs.TryGetValue(DmaBufModule, out var ours))
        {
            Expect(Outcome(ours, "a Xen domain") == "ok", $"{DmaBufModule}: a Xen domain");
            Expect(Outcome(ours, "gntdev has the dma-buf ioctls") == "ok", $"{DmaBufModule}: the dma-buf ioctls");
            Expect(Outcome(ours, "gntdev exports dma-bufs") == "ok", $"{DmaBufModule}: exports");
            Expect(Outcome(ours, "DMA-able backing") == "warning" && Evidence(ours, "DMA-able backing")?.StartsWith("unavailable", StringComparison.Ordinal) == true,
                $"{DmaBufModule}: DMA-able backing reported unavailable (found: {Evidence(ours, "DMA-able backing") ?? "nothing"})");
            Expect(ours["report"]!["canRun"]!.GetValue<bool>(), $"{DmaBufModule}: the linux mode can run");
        }
        else problems.Add($"no doctor run with {DmaBufModule}");
        if (runs.TryGetValue(DebianModule, out var debian))
        {
            Expect(Outcome(debian, "gntdev has the dma-buf ioctls") == "failed" && Evidence(debian, "gntdev has the dma-buf ioctls")?.Contains("ENOTTY", StringComparison.Ordinal) == true,
                $"{DebianModule}: no dma-buf ioctls (ENOTTY) (found: {Evidence(debian, "gntdev has the dma-buf ioctls") ?? "nothing"})");
            Expect(!debian["report"]!["canRun"]!.GetValue<bool>(), $"{DebianModule}: the linux mode cannot run");
        }
        else problems.Add($"no doctor run with {DebianModule}");
        return new JsonObject { ["clean"] = problems.Count == 0, ["problems"] = problems, ["runs"] = new JsonArray([.. runs.Values.Select(r => (JsonNode)r.DeepClone())]) };
    }
}
