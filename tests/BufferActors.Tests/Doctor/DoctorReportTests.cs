using BufferActors.Actors.Diagnostics;
using static BufferActors.Actors.Diagnostics.DoctorReport;

namespace BufferActors.Tests.Doctor;

/// <summary>
/// <c>doctor</c>'s judgement of what machines answered: a dma-buf-capable gntdev (the real-kernel lane's Arm dom0 with
/// the module built with CONFIG_XEN_GNTDEV_DMABUF), a gntdev without dma-buf (Debian's own module: ENOTTY), a PV dom0
/// (EXP_FROM_REFS refused before its argument is read: EINVAL), and a machine without Xen (this one).
/// </summary>
public sealed class DoctorReportTests
{
    private static readonly NodeAnswer Absent = new("/dev/x", false, null, null);

    /// <summary>As the lane's dom0 answers (docs/real-kernel.md): dma-buf ioctls, exports, WC accepted but ignored.</summary>
    private static readonly MachineAnswers ArmDom0WithDmaBuf = new(
        "arm64", 0, "xen", null, "control_d",
        new NodeAnswer("/dev/xen/gntdev", true, "owner 0:0 mode 600", null),
        new NodeAnswer("/dev/xen/gntalloc", true, "owner 0:0 mode 600", null),
        new NodeAnswer("/dev/udmabuf", true, "owner 0:0 mode 600", null),
        WaitUnknown: "ENOENT", ExportNothing: "EFAULT", GntdevLimit: "65536", GntallocLimit: "1024", UdmabufSizeLimitMb: "64",
        DmaBacking: new DmaBackingAnswer(1048576, 1048576, null), Journal: null);

    private static Finding Find(DoctorReport report, string check) => Assert.Single(report.Findings, f => f.Check.StartsWith(check, StringComparison.Ordinal));

    [Fact]
    public void ADmaBufCapableDom0CanRun_AndWriteCombiningThatLeavesTheBalloonAloneIsReportedUnavailable()
    {
        var report = Evaluate(ArmDom0WithDmaBuf, "linux");

        Assert.True(report.CanRun);
        Assert.Equal(Outcome.Ok, Find(report, "a Xen domain").Outcome);
        Assert.Contains("dom0", Find(report, "domain").Evidence, StringComparison.Ordinal);
        Assert.Equal(Outcome.Ok, Find(report, "guest type").Outcome);
        Assert.Equal(Outcome.Ok, Find(report, "gntdev has the dma-buf ioctls").Outcome);
        Assert.Equal(Outcome.Ok, Find(report, "gntdev exports dma-bufs").Outcome);
        var dma = Find(report, "DMA-able backing");
        Assert.Equal(Outcome.Warning, dma.Outcome);
        Assert.Contains("unavailable", dma.Evidence, StringComparison.Ordinal);
        Assert.Contains("CONFIG_XEN_GRANT_DMA_ALLOC", dma.Hint, StringComparison.Ordinal);
        Assert.Equal("gntdev 65536 pages per buffer; gntalloc 1024 grants; udmabuf 64 MB per buffer", Find(report, "limits").Evidence);
    }

    [Fact]
    public void WriteCombiningThatLowersTheBalloonIsRealDmaBacking()
    {
        var report = Evaluate(ArmDom0WithDmaBuf with { DmaBacking = new DmaBackingAnswer(1048576, 1048572, null) }, "linux");
        Assert.Equal(Outcome.Ok, Find(report, "DMA-able backing").Outcome);
    }

    [Fact]
    public void AGntdevWithoutDmaBufSupport_CannotRun_AndSaysWhichKernelOptionIsMissing()
    {
        var report = Evaluate(ArmDom0WithDmaBuf with { WaitUnknown = "ENOTTY", ExportNothing = "ENOTTY", DmaBacking = null }, "linux");

        Assert.False(report.CanRun);
        var ioctls = Find(report, "gntdev has the dma-buf ioctls");
        Assert.Equal(Outcome.Failed, ioctls.Outcome);
        Assert.Contains("CONFIG_XEN_GNTDEV_DMABUF", ioctls.Evidence, StringComparison.Ordinal);
        Assert.DoesNotContain(report.Findings, f => f.Check.StartsWith("gntdev exports", StringComparison.Ordinal)); // not asked past ENOTTY
        Assert.True(Evaluate(ArmDom0WithDmaBuf with { WaitUnknown = "ENOTTY", ExportNothing = "ENOTTY", DmaBacking = null }, "simulator").CanRun);
    }

    [Fact]
    public void APvDom0_HasTheIoctlsButRefusesExports_AndCannotRun()
    {
        var pv = ArmDom0WithDmaBuf with { Machine = "x64", GuestType = "PV", ExportNothing = "EINVAL", DmaBacking = null };
        var report = Evaluate(pv, "linux");

        Assert.False(report.CanRun);
        Assert.Equal(Outcome.Failed, Find(report, "guest type").Outcome);
        Assert.Contains("PVH or HVM", Find(report, "guest type").Hint, StringComparison.Ordinal);
        var exports = Find(report, "gntdev exports dma-bufs");
        Assert.Equal(Outcome.Failed, exports.Outcome);
        Assert.Contains("EINVAL", exports.Evidence, StringComparison.Ordinal);
        Assert.Equal(Outcome.Ok, Evaluate(pv with { GuestType = "PVH", ExportNothing = "EFAULT" }, "linux").Findings.Single(f => f.Check.StartsWith("guest type", StringComparison.Ordinal)).Outcome);
    }

    [Fact]
    public void AMachineWithoutXen_SaysSoPlainly_AndPointsToTheSimulator()
    {
        var none = new MachineAnswers("x64", 1000, null, null, null, Absent with { Path = "/dev/xen/gntdev" }, Absent, Absent, null, null, null, null, null, null, null);
        var linux = Evaluate(none, "linux");

        Assert.False(linux.CanRun);
        var xen = Find(linux, "a Xen domain");
        Assert.Equal(Outcome.Failed, xen.Outcome);
        Assert.StartsWith("not a Xen domain", xen.Evidence, StringComparison.Ordinal);
        Assert.Contains("--device simulator", xen.Hint, StringComparison.Ordinal);
        Assert.Equal(Outcome.Failed, Find(linux, "the grant device").Outcome);

        var simulator = Evaluate(none, "simulator");
        Assert.True(simulator.CanRun);
        Assert.Equal(Outcome.Warning, Find(simulator, "a Xen domain").Outcome);
    }

    [Fact]
    public void ANodeThatDoesNotOpen_AndAnUnwritableJournalFolder_AreFailures()
    {
        var denied = ArmDom0WithDmaBuf with
        {
            Uid = 1000,
            Gntdev = new NodeAnswer("/dev/xen/gntdev", true, "owner 0:0 mode 600", "EACCES"),
            WaitUnknown = null,
            ExportNothing = null,
            DmaBacking = null,
            Journal = new JournalAnswer("/var/lib/bufferactors/journal.db", false, "Access to the path is denied."),
        };
        var report = Evaluate(denied, "linux");
        Assert.False(report.CanRun);
        Assert.Contains("does not open read-write for uid 1000: EACCES; owner 0:0 mode 600", Find(report, "the grant device").Evidence, StringComparison.Ordinal);
        Assert.Equal(Outcome.Failed, Find(report, "the journal's folder").Outcome);
        Assert.False(Evaluate(denied, "simulator").CanRun); // the simulator's journal needs its folder too
    }
}
