using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace BufferActors.Conformance;

/// <summary>
/// The differential: merges the kernel's and the simulator's results case by case, accepts a
/// disagreement only when docs/simulator.md lists the case as a deliberate difference, adds the actor
/// scenario's and the kernel log's verdicts, writes results.json and prints "N passed, N failed" last.
/// </summary>
internal static partial class Comparison
{
    /// <summary>Exit code: 0 when everything passed, 1 otherwise, 2 for bad arguments.</summary>
    public static int Run(string[] args)
    {
        string Required(string name) => Option(args, name) ?? throw new ArgumentException($"compare needs {name}");
        var kernel = Read(Required("--kernel"));
        var simulator = Read(Required("--simulator"));
        var deliberate = DeliberateDifferences(File.ReadAllText(Required("--deliberate")));
        string? only = Option(args, "--case");
        string? console = Option(args, "--console");
        string? dmesg = Option(args, "--dmesg");
        string? replay = Option(args, "--replay");

        var names = Suite.Cases.Select(c => c.Name).Where(n => only is null || n == only).ToList();
        var cases = new JsonArray();
        int passed = 0, failed = 0;
        foreach (string name in names)
        {
            kernel.TryGetValue(name, out var k);
            simulator.TryGetValue(name, out var s);
            bool agree = k is not null && s is not null && k.Observations.SequenceEqual(s.Observations);
            string? reason = deliberate.GetValueOrDefault(name);
            bool ran = k is not null && s is not null && k.Error is null && s.Error is null;
            bool ok = ran && (agree || reason is not null);
            if (ok) passed++;
            else
            {
                failed++;
                Console.WriteLine($"FAIL {name}: {Why(k, s, agree)}");
                if (k is not null && s is not null && !agree) PrintDifference(k, s);
            }
            cases.Add(new JsonObject
            {
                ["name"] = name,
                ["passed"] = ok,
                ["agree"] = agree,
                ["deliberate"] = reason,
                ["kernel"] = k is null ? null : JsonSerializer.SerializeToNode(k, Suite.Json),
                ["simulator"] = s is null ? null : JsonSerializer.SerializeToNode(s, Suite.Json),
            });
        }

        var root = new JsonObject { ["cases"] = cases };
        if (console is not null)
        {
            var scenario = ScenarioVerdict(console, replay);
            root["scenario"] = scenario;
            if (scenario["clean"]?.GetValue<bool>() == true) passed++;
            else
            {
                failed++;
                Console.WriteLine($"FAIL scenario: {scenario.ToJsonString()}");
            }
        }
        if (Option(args, "--doctor") is { } doctorLines)
        {
            var doctor = DoctorRun.Verdict(File.ReadAllLines(doctorLines).Where(l => l.Length > 0));
            root["doctor"] = doctor;
            if (doctor["clean"]?.GetValue<bool>() == true) passed++;
            else
            {
                failed++;
                Console.WriteLine($"FAIL doctor: {doctor["problems"]!.ToJsonString()}");
            }
        }
        if (dmesg is not null)
        {
            var log = KernelLogVerdict(dmesg);
            root["kernelLog"] = log;
            if (log["clean"]?.GetValue<bool>() == true) passed++;
            else
            {
                failed++;
                Console.WriteLine($"FAIL kernel log: {log.ToJsonString()}");
            }
        }

        int deliberateCount = cases.Count(c => c!["agree"]!.GetValue<bool>() == false && c["passed"]!.GetValue<bool>());
        root["passed"] = passed;
        root["failed"] = failed;
        root["deliberateDifferences"] = deliberateCount;
        File.WriteAllText(Option(args, "--out") ?? "results.json", root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"{names.Count} cases: {cases.Count(c => c!["agree"]!.GetValue<bool>())} agree, {deliberateCount} differ deliberately (docs/simulator.md)");
        Console.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>
    /// The deliberate differences: rows <c>| `case-name` | reason |</c> of the table under the heading
    /// "Deliberate differences from the kernel" in docs/simulator.md.
    /// </summary>
    internal static Dictionary<string, string> DeliberateDifferences(string markdown)
    {
        var result = new Dictionary<string, string>();
        bool inSection = false;
        foreach (string line in markdown.Split('\n'))
        {
            if (line.StartsWith('#')) inSection = line.Contains("Deliberate differences from the kernel", StringComparison.Ordinal);
            else if (inSection && DeliberateRow().Match(line) is { Success: true } m) result[m.Groups[1].Value] = m.Groups[2].Value.Trim();
        }
        return result;
    }

    private static Dictionary<string, CaseResult> Read(string path)
    {
        var results = new Dictionary<string, CaseResult>();
        if (!File.Exists(path)) return results;
        foreach (string line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                var r = JsonSerializer.Deserialize<CaseResult>(line.Trim(), Suite.Json);
                if (r is not null) results[r.Case] = r;
            }
            catch (JsonException)
            {
                // A line garbled on the console (kernel output interleaved) counts as a missing result.
            }
        }
        return results;
    }

    private static string Why(CaseResult? k, CaseResult? s, bool agree) =>
        k is null ? "no result from the kernel (the guest did not run it, or its line was lost)"
        : s is null ? "no result from the simulator"
        : k.Error is not null ? $"failed on the kernel: {k.Error}"
        : s.Error is not null ? $"failed on the simulator: {s.Error}"
        : !agree ? "the kernel and the simulator disagree, and docs/simulator.md does not list it as deliberate"
        : "unknown";

    private static void PrintDifference(CaseResult k, CaseResult s)
    {
        int n = Math.Max(k.Observations.Count, s.Observations.Count);
        for (int i = 0; i < n; i++)
        {
            string kl = i < k.Observations.Count ? k.Observations[i] : "(none)";
            string sl = i < s.Observations.Count ? s.Observations[i] : "(none)";
            Console.WriteLine(kl == sl ? $"    = {kl}" : $"    kernel:    {kl}\n    simulator: {sl}");
        }
    }

    private static JsonObject ScenarioVerdict(string consolePath, string? replayPath)
    {
        string? line = File.Exists(consolePath)
            ? File.ReadLines(consolePath).Select(l => l.TrimEnd('\r')).Select(l => l.IndexOf(RealKernelScenario.ResultPrefix, StringComparison.Ordinal) is int i and >= 0 ? l[(i + RealKernelScenario.ResultPrefix.Length)..] : null).LastOrDefault(l => l is not null)
            : null;
        JsonObject scenario;
        try
        {
            scenario = line is null ? new JsonObject { ["clean"] = false, ["error"] = "the scenario printed no result" } : JsonNode.Parse(line)!.AsObject();
        }
        catch (JsonException e)
        {
            scenario = new JsonObject { ["clean"] = false, ["error"] = $"unreadable scenario result: {e.Message}" };
        }
        if (replayPath is not null)
        {
            JsonObject replay;
            try
            {
                replay = JsonNode.Parse(File.ReadAllText(replayPath))!.AsObject();
                int anomalies = replay["summary"]?["anomalies"]?.GetValue<int>() ?? replay["anomalies"]?.AsArray().Count ?? -1;
                scenario["replayAnomalies"] = anomalies;
                // The journal's account must match the scenario's: every lifecycle it ran, none left live.
                int? replayed = replay["totals"]?["lifecycles"]?.GetValue<int>();
                int? live = replay["totals"]?["live"]?.GetValue<int>();
                scenario["replayLifecycles"] = replayed;
                scenario["replayLive"] = live;
                if (anomalies != 0 || live != 0 || replayed != scenario["lifecycles"]?.GetValue<int>()) scenario["clean"] = false;
            }
            catch (Exception e) when (e is IOException or JsonException or InvalidOperationException)
            {
                scenario["replayAnomalies"] = null;
                scenario["replayError"] = e.Message;
                scenario["clean"] = false;
            }
        }
        return scenario;
    }

    private static JsonObject KernelLogVerdict(string dmesgPath)
    {
        var lines = File.Exists(dmesgPath) ? File.ReadAllLines(dmesgPath) : [];
        var offending = lines.Where(l => KernelTrouble().IsMatch(l)).Take(20).ToList();
        bool seen = lines.Any(l => l.Contains("BA-DMESG-END", StringComparison.Ordinal));
        return new JsonObject
        {
            ["clean"] = seen && offending.Count == 0,
            ["read"] = seen,
            ["offending"] = new JsonArray([.. offending.Select(l => (JsonNode)l)]),
        };
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    [GeneratedRegex(@"^\|\s*`([a-z0-9-]+)`\s*\|(.+)\|\s*$")]
    private static partial Regex DeliberateRow();

    // What a clean run must never make the kernel say: warnings, bugs, oopses, and grants it could not end.
    [GeneratedRegex(@"WARNING:|\bBUG:|Oops|Call trace:|still pending|leaking g\.e\.")]
    private static partial Regex KernelTrouble();
}
