using System.Text.Json;
using System.Text.Json.Nodes;
using BufferActors.Conformance;

namespace BufferActors.Tests.Conformance;

/// <summary>The lane's verdict: a case passes when both devices ran it and agree, or when docs list the difference.</summary>
public sealed class ComparisonTests : IDisposable
{
    private const string Case = "export-one-page";
    private readonly string _dir = Directory.CreateTempSubdirectory("ba-compare-").FullName;

    [Fact]
    public void AgreeingResultsPass()
    {
        var (code, results) = Compare(["export: ok"], ["export: ok"], deliberate: null);
        Assert.Equal(0, code);
        Assert.True(results["cases"]![0]!["agree"]!.GetValue<bool>());
        Assert.Equal(1, results["passed"]!.GetValue<int>());
    }

    [Fact]
    public void AnUnlistedDisagreementFails()
    {
        var (code, results) = Compare(["export: ok"], ["export: EINVAL"], deliberate: null);
        Assert.Equal(1, code);
        Assert.False(results["cases"]![0]!["passed"]!.GetValue<bool>());
    }

    [Fact]
    public void ADisagreementListedAsDeliberatePasses_WithItsReason()
    {
        var (code, results) = Compare(["export: ok"], ["export: EINVAL"], deliberate: "the simulator models DMA memory");
        Assert.Equal(0, code);
        Assert.Equal("the simulator models DMA memory", results["cases"]![0]!["deliberate"]!.GetValue<string>());
        Assert.Equal(1, results["deliberateDifferences"]!.GetValue<int>());
    }

    [Fact]
    public void ACaseMissingOnOneDeviceOrFailingThereFails_EvenIfListed()
    {
        Assert.Equal(1, Compare(["export: ok"], null, deliberate: "listed").Code);
        Assert.Equal(1, Compare(["export: ok"], ["export: ok"], deliberate: "listed", kernelError: "GntdevException: boom").Code);
    }

    [Fact]
    public void AKernelLogWithAWarningFails_TheCommandLineDoesNot()
    {
        string dmesg = Path.Combine(_dir, "dmesg.log");
        const string begin = "BA-DMESG-BEGIN\n<5>[    0.000000] Kernel command line: console=hvc0 panic=1 oops=panic\n";
        File.WriteAllText(dmesg, begin + "BA-DMESG-END\n");
        Assert.Equal(0, Compare(["export: ok"], ["export: ok"], null, dmesg: dmesg).Code);
        File.WriteAllText(dmesg, begin);
        Assert.Equal(1, Compare(["export: ok"], ["export: ok"], null, dmesg: dmesg).Code); // cut short: not known to be clean
        File.WriteAllText(dmesg, begin + "<4>[   12.5] WARNING: CPU: 0 PID: 88 at drivers/xen/grant-table.c:1234\nBA-DMESG-END\n");
        var (code, results) = Compare(["export: ok"], ["export: ok"], null, dmesg: dmesg);
        Assert.Equal(1, code);
        Assert.Single(results["kernelLog"]!["offending"]!.AsArray());
    }

    private (int Code, JsonNode Results) Compare(string[] kernel, string[]? simulator, string? deliberate,
        string? kernelError = null, string? dmesg = null)
    {
        string k = Write("kernel.jsonl", new CaseResult(Case, "kernel", kernel, kernelError, new Dictionary<string, string>(), 1));
        string s = Write("simulator.jsonl", simulator is null ? null : new CaseResult(Case, "simulator", simulator, null, new Dictionary<string, string>(), 1));
        string doc = Path.Combine(_dir, "simulator.md");
        File.WriteAllText(doc, "# Sim\n\n## Deliberate differences from the kernel\n\n| case | reason |\n|---|---|\n"
            + (deliberate is null ? "" : $"| `{Case}` | {deliberate} |\n") + "\n## Next\n| `map-bogus-ref` | not in the section |\n");
        string output = Path.Combine(_dir, "results.json");
        string[] args = ["--kernel", k, "--simulator", s, "--deliberate", doc, "--out", output, "--case", Case];
        if (dmesg is not null) args = [.. args, "--dmesg", dmesg];
        int code = Comparison.Run(args);
        return (code, JsonNode.Parse(File.ReadAllText(output))!);
    }

    private string Write(string name, CaseResult? result)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, result is null ? "" : JsonSerializer.Serialize(result, Suite.Json) + "\n");
        return path;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
