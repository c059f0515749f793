using System.Text.Json;
using System.Text.Json.Serialization;
using BufferActors.Actors.Diagnostics;
using BufferActors.Conformance;

namespace BufferActors.Tests.Conformance;

/// <summary>
/// The lane's verdict on its two doctor runs in dom0: clean only when the lane's gntdev shows dma-buf support with
/// DMA-able backing unavailable, and Debian's shows none.
/// </summary>
public sealed class DoctorVerdictTests
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private static readonly MachineAnswers Ours = new(
        "arm64", 0, "xen", null, "control_d",
        new NodeAnswer("/dev/xen/gntdev", true, "owner 0:0 mode 600", null),
        new NodeAnswer("/dev/xen/gntalloc", true, "owner 0:0 mode 600", null),
        new NodeAnswer("/dev/udmabuf", false, null, null),
        "ENOENT", "EFAULT", "65536", "1024", null, new DmaBackingAnswer(1048576, 1048576, null), null);

    private static readonly MachineAnswers Debian = Ours with { WaitUnknown = "ENOTTY", ExportNothing = null, DmaBacking = null };

    private static string Line(string module, MachineAnswers answers) =>
        JsonSerializer.Serialize(new { module, report = DoctorReport.Evaluate(answers, "linux"), answers }, Json);

    [Fact]
    public void BothRunsAsTheLaneExpects_AreClean()
    {
        var verdict = DoctorRun.Verdict([Line(DoctorRun.DmaBufModule, Ours), Line(DoctorRun.DebianModule, Debian)]);
        Assert.True(verdict["clean"]!.GetValue<bool>(), verdict.ToJsonString());
    }

    [Fact]
    public void RealDmaBacking_ADebianModuleWithDmaBuf_OrAMissingRun_AreNot()
    {
        var realDma = DoctorRun.Verdict([Line(DoctorRun.DmaBufModule, Ours with { DmaBacking = new DmaBackingAnswer(1048576, 1048572, null) }), Line(DoctorRun.DebianModule, Debian)]);
        Assert.False(realDma["clean"]!.GetValue<bool>());
        Assert.Contains("DMA-able backing", realDma["problems"]!.ToJsonString(), StringComparison.Ordinal);

        var debianWithDmaBuf = DoctorRun.Verdict([Line(DoctorRun.DmaBufModule, Ours), Line(DoctorRun.DebianModule, Ours)]);
        Assert.False(debianWithDmaBuf["clean"]!.GetValue<bool>());

        var missing = DoctorRun.Verdict([Line(DoctorRun.DmaBufModule, Ours)]);
        Assert.Contains($"no doctor run with {DoctorRun.DebianModule}", missing["problems"]!.ToJsonString(), StringComparison.Ordinal);
    }
}
