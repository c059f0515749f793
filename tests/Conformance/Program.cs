using BufferActors.Conformance;
using BufferActors.Native;

// The conformance runner. Runs the suite on one device and prints one "BA-RESULT {json}" line per case;
// `compare` merges a kernel and a simulator run into the lane's results.json.
//
//   BufferActors.Conformance [--device linux|simulator] [--case NAME] [--scenario]
//   BufferActors.Conformance --list
//   BufferActors.Conformance --doctor MODULE      (doctor's probe of this machine, one BA-DOCTOR line)
//   BufferActors.Conformance compare --kernel K.jsonl --simulator S.jsonl --deliberate docs/simulator.md --out results.json [...]
try
{
    if (args.Length > 0 && args[0] == "compare") return Comparison.Run(args[1..]);
    if (args.Contains("--list"))
    {
        foreach (var c in Suite.Cases) Console.WriteLine($"{c.Name,-48} {c.Summary}");
        return 0;
    }

    if (Option(args, "--doctor") is { } module) return DoctorRun.Run(module, Console.Out);
    string device = Option(args, "--device") ?? "simulator";
    string? only = Option(args, "--case");
    using ConformanceTarget target = device switch
    {
        "linux" => new LinuxTarget(),
        "simulator" => new SimulatorTarget(),
        _ => throw new ArgumentException($"--device must be linux or simulator, not '{device}'"),
    };

    var results = Suite.RunAll(target, only, Console.Out);
    int exit = results.Any(r => r.Error is not null) ? 1 : 0;
    if (args.Contains("--scenario") && device == "linux")
    {
        exit |= RealKernelScenario.Run(Console.Out);
    }
    return exit;
}
catch (Exception e) when (e is ArgumentException or GntdevException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

static string? Option(string[] args, string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
