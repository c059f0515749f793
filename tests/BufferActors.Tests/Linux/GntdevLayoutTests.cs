using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using BufferActors.Native;
using BufferActors.Native.Linux;
using Xunit;

namespace BufferActors.Tests.Linux;

/// <summary>
/// Checks every ioctl number, struct size, member offset and member size declared in GntdevUapi.cs,
/// GntallocUapi.cs and UdmabufUapi.cs against the installed <c>&lt;xen/gntdev.h&gt;</c>,
/// <c>&lt;xen/gntalloc.h&gt;</c> and <c>&lt;linux/udmabuf.h&gt;</c>, by compiling and running a C program.
/// </summary>
public sealed class GntdevLayoutTests
{
    private const string UapiNamespace = "BufferActors.Native.Linux";

    /// <summary>
    /// The structs of &lt;xen/gntdev.h&gt; and all their members, as written in the header. Members of
    /// anonymous unions and structs are listed by their C access path. The C# side must declare exactly
    /// these (no struct or member more or less), and each one is measured by the C program.
    /// </summary>
    private static readonly (string Struct, string[] Members)[] CStructs =
    [
        ("ioctl_gntdev_grant_ref", ["domid", "ref"]),
        ("ioctl_gntdev_map_grant_ref", ["count", "pad", "index", "refs"]),
        ("ioctl_gntdev_unmap_grant_ref", ["index", "count", "pad"]),
        ("ioctl_gntdev_get_offset_for_vaddr", ["vaddr", "offset", "count", "pad"]),
        ("ioctl_gntdev_set_max_grants", ["count"]),
        ("ioctl_gntdev_unmap_notify", ["index", "action", "event_channel_port"]),
        ("gntdev_grant_copy_segment",
        [
            "source", "source.virt", "source.foreign", "source.foreign.ref", "source.foreign.offset", "source.foreign.domid",
            "dest", "dest.virt", "dest.foreign", "dest.foreign.ref", "dest.foreign.offset", "dest.foreign.domid",
            "len", "flags", "status",
        ]),
        ("ioctl_gntdev_grant_copy", ["count", "segments"]),
        ("ioctl_gntdev_dmabuf_exp_from_refs", ["flags", "count", "fd", "domid", "refs"]),
        ("ioctl_gntdev_dmabuf_exp_wait_released", ["fd", "wait_to_ms"]),
        ("ioctl_gntdev_dmabuf_imp_to_refs", ["fd", "count", "domid", "reserved", "refs"]),
        ("ioctl_gntdev_dmabuf_imp_release", ["fd", "reserved"]),
        ("ioctl_gntalloc_alloc_gref", ["domid", "flags", "count", "index", "gref_ids"]),
        ("ioctl_gntalloc_dealloc_gref", ["index", "count"]),
        ("ioctl_gntalloc_unmap_notify", ["index", "action", "event_channel_port"]),
        ("udmabuf_create", ["memfd", "flags", "offset", "size"]),
    ];

    /// <summary>The classes whose integral constants stand for C macros.</summary>
    private static readonly Type[] ConstantClasses = [typeof(GntdevUapi), typeof(GntallocUapi), typeof(UdmabufUapi)];

    /// <summary>The macros of &lt;xen/gntdev.h&gt; and &lt;linux/ioctl.h&gt; GntdevUapi declares.</summary>
    private static readonly string[] CConstants =
    [
        "_IOC_NRBITS", "_IOC_TYPEBITS", "_IOC_SIZEBITS", "_IOC_DIRBITS",
        "_IOC_NRSHIFT", "_IOC_TYPESHIFT", "_IOC_SIZESHIFT", "_IOC_DIRSHIFT", "_IOC_NONE",
        "IOCTL_GNTDEV_MAP_GRANT_REF", "IOCTL_GNTDEV_UNMAP_GRANT_REF", "IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR",
        "IOCTL_GNTDEV_SET_MAX_GRANTS", "IOCTL_GNTDEV_SET_UNMAP_NOTIFY", "IOCTL_GNTDEV_GRANT_COPY",
        "IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS", "IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED",
        "IOCTL_GNTDEV_DMABUF_IMP_TO_REFS", "IOCTL_GNTDEV_DMABUF_IMP_RELEASE",
        "UNMAP_NOTIFY_CLEAR_BYTE", "UNMAP_NOTIFY_SEND_EVENT",
        "GNTDEV_DMA_FLAG_WC", "GNTDEV_DMA_FLAG_COHERENT",
        "IOCTL_GNTALLOC_ALLOC_GREF", "IOCTL_GNTALLOC_DEALLOC_GREF", "IOCTL_GNTALLOC_SET_UNMAP_NOTIFY", "GNTALLOC_FLAG_WRITABLE",
        "_IOC_WRITE", "UDMABUF_CREATE", "UDMABUF_FLAGS_CLOEXEC", "MFD_CLOEXEC", "MFD_ALLOW_SEALING", "F_ADD_SEALS", "F_SEAL_SHRINK", "F_SEAL_GROW", "F_SEAL_WRITE",
    ];

    private const string InstallHint =
        "install gcc and linux-libc-dev (apt-get install -y gcc linux-libc-dev; CI installs them)";

    [SkippableFact]
    public void CSharpDeclaresExactlyTheListedStructsMembersAndConstants()
    {
        Dictionary<string, ulong> cs = MeasureCSharp();

        var expected = new SortedSet<string>(StringComparer.Ordinal);
        foreach ((string s, string[] members) in CStructs)
        {
            expected.Add($"sizeof {s}");
            foreach (string m in members)
            {
                expected.Add($"offsetof {s}.{m}");
                expected.Add($"sizeof {s}.{m}");
            }
        }

        foreach (string c in CConstants)
        {
            expected.Add($"const {c}");
        }

        var actual = new SortedSet<string>(cs.Keys, StringComparer.Ordinal);
        Assert.True(
            expected.SetEquals(actual),
            $"C# declarations and the checked C list differ.\nOnly in C#: {string.Join(", ", actual.Except(expected))}\n" +
            $"Only in the C list: {string.Join(", ", expected.Except(actual))}");
    }

    [SkippableFact]
    public void EveryNumberSizeAndOffsetMatchesTheCHeader()
    {
        Dictionary<string, ulong> c = MeasureC();
        Dictionary<string, ulong> cs = MeasureCSharp();

        var problems = new List<string>();
        foreach ((string key, ulong value) in cs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!c.TryGetValue(key, out ulong cValue))
            {
                problems.Add($"{key}: declared in C# ({value}) but not measured in C");
            }
            else if (cValue != value)
            {
                problems.Add($"{key}: C# {value} (0x{value:X}), C {cValue} (0x{cValue:X})");
            }
        }

        foreach (string key in c.Keys.Except(cs.Keys).Order(StringComparer.Ordinal))
        {
            problems.Add($"{key}: measured in C ({c[key]}) but not declared in C#");
        }

        Assert.True(problems.Count == 0, "Layout differs from the installed headers:\n" + string.Join("\n", problems));
        Assert.True(cs.Count >= 100, $"only {cs.Count} values were compared");

        // The public flag enums carry the same bits as the C macros.
        AssertSameBits("GNTDEV_DMA_FLAG_WC", c, (ulong)DmaBufFlags.WriteCombine);
        AssertSameBits("GNTDEV_DMA_FLAG_COHERENT", c, (ulong)DmaBufFlags.Coherent);
        AssertSameBits("UNMAP_NOTIFY_CLEAR_BYTE", c, (ulong)UnmapNotifyActions.ClearByte);
        AssertSameBits("UNMAP_NOTIFY_SEND_EVENT", c, (ulong)UnmapNotifyActions.SendEvent);

        // A tail of n elements ends where C puts refs[n - 1].
        foreach (int n in new[] { 1, 2, 7, 65536 })
        {
            Assert.Equal(
                c["offsetof ioctl_gntdev_map_grant_ref.refs"] + ((ulong)n * c["sizeof ioctl_gntdev_grant_ref"]),
                (ulong)GntdevUapi.SizeWithTail((int)c["sizeof ioctl_gntdev_map_grant_ref"], (int)c["sizeof ioctl_gntdev_grant_ref"], n));
            Assert.Equal(
                c["offsetof ioctl_gntdev_dmabuf_exp_from_refs.refs"] + ((ulong)n * 4),
                (ulong)GntdevUapi.SizeWithTail((int)c["sizeof ioctl_gntdev_dmabuf_exp_from_refs"], 4, n));
            Assert.Equal(
                c["offsetof ioctl_gntdev_dmabuf_imp_to_refs.refs"] + ((ulong)n * 4),
                (ulong)GntdevUapi.SizeWithTail((int)c["sizeof ioctl_gntdev_dmabuf_imp_to_refs"], 4, n));
        }
    }

    private static void AssertSameBits(string macro, Dictionary<string, ulong> c, ulong enumValue) =>
        Assert.True(c[$"const {macro}"] == enumValue, $"{macro} is {c[$"const {macro}"]} in C but {enumValue} in the C# enum");

    // ---- The C# side: reflection over the Native assembly ----------------------------------------

    /// <summary>
    /// Every top-level struct of the UAPI namespace with every member (recursing into the nested types
    /// that stand for C's anonymous unions and structs), and every integral constant of GntdevUapi.
    /// </summary>
    private static Dictionary<string, ulong> MeasureCSharp()
    {
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        Type[] structs = [.. typeof(LinuxGrantDevice).Assembly.GetTypes()
            .Where(t => t.Namespace == UapiNamespace && t.IsValueType && !t.IsEnum && !t.IsNested)];
        Assert.NotEmpty(structs);

        foreach (Type t in structs)
        {
            Assert.True(t.IsLayoutSequential || t.IsExplicitLayout, $"{t.Name} has automatic layout");
            int marshalled = Marshal.SizeOf(t);
            Assert.True(
                marshalled == RuntimeHelpers.SizeOf(t.TypeHandle),
                $"{t.Name}: marshalled size {marshalled} differs from its in-memory size (not blittable)");
            values[$"sizeof {t.Name}"] = (ulong)marshalled;
            AddMembers(values, t.Name, t, prefix: "", baseOffset: 0);
        }

        foreach (FieldInfo f in ConstantClasses.SelectMany(c => c.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)))
        {
            if (f.FieldType == typeof(int) || f.FieldType == typeof(uint) || f.FieldType == typeof(ushort))
            {
                values[$"const {f.Name}"] = Convert.ToUInt64(f.GetValue(null), CultureInfo.InvariantCulture);
            }
        }

        return values;
    }

    private static void AddMembers(Dictionary<string, ulong> values, string structName, Type type, string prefix, long baseOffset)
    {
        foreach (FieldInfo f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            string path = prefix + f.Name;
            long offset = baseOffset + Marshal.OffsetOf(type, f.Name).ToInt64();
            values[$"offsetof {structName}.{path}"] = (ulong)offset;
            values[$"sizeof {structName}.{path}"] = (ulong)FieldSize(f);

            // Nested value types stand for C's anonymous unions and structs: their members are C members too.
            Type ft = f.FieldType;
            if (f.GetCustomAttribute<FixedBufferAttribute>() is null && ft.IsValueType && !ft.IsPrimitive && !ft.IsEnum && ft.IsNested)
            {
                AddMembers(values, structName, ft, path + ".", offset);
            }
        }
    }

    private static int FieldSize(FieldInfo f)
    {
        if (f.GetCustomAttribute<FixedBufferAttribute>() is { } buffer)
        {
            return buffer.Length * Marshal.SizeOf(buffer.ElementType);
        }

        return f.FieldType.IsPointer ? IntPtr.Size : Marshal.SizeOf(f.FieldType);
    }

    // ---- The C side: generate, compile and run a program -----------------------------------------

    private static Dictionary<string, ulong> MeasureC()
    {
        Needs.Gcc();
        Needs.KernelHeaders();
        string compiler = FindCompiler()
            ?? throw new Xunit.Sdk.XunitException($"No C compiler (gcc or cc) on PATH: {InstallHint}.");

        DirectoryInfo dir = Directory.CreateTempSubdirectory("gntdev-layout-");
        try
        {
            string source = Path.Combine(dir.FullName, "gntdev_layout.c");
            string exe = Path.Combine(dir.FullName, "gntdev_layout");
            File.WriteAllText(source, GenerateC());

            (int rc, string stdout, string stderr) = Run(compiler, ["-std=gnu11", "-Wall", "-o", exe, source]);
            if (rc != 0)
            {
                string hint = stderr.Contains("gntdev.h", StringComparison.Ordinal) || stderr.Contains("ioctl.h", StringComparison.Ordinal)
                    ? $"The kernel UAPI headers are missing or incomplete: {InstallHint}.\n"
                    : "";
                throw new Xunit.Sdk.XunitException($"{hint}{compiler} failed ({rc}) on the generated program:\n{stderr}{stdout}");
            }

            (rc, stdout, stderr) = Run(exe, []);
            Assert.True(rc == 0, $"the layout program exited with {rc}: {stderr}");

            var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
            foreach (string line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                int space = line.LastIndexOf(' ');
                values.Add(line[..space], ulong.Parse(line[(space + 1)..], CultureInfo.InvariantCulture));
            }

            return values;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string GenerateC()
    {
        var c = new StringBuilder();
        c.AppendLine("#include <stddef.h>");
        c.AppendLine("#include <stdint.h>");
        c.AppendLine("#include <stdio.h>");
        c.AppendLine("#include <linux/ioctl.h>");
        c.AppendLine("/* <xen/gntdev.h> uses two Xen ABI types it does not define (Xen's public xen.h and grant_table.h do). */");
        c.AppendLine("typedef uint32_t grant_ref_t;");
        c.AppendLine("typedef uint16_t domid_t;");
        c.AppendLine("#include <xen/gntdev.h>");
        c.AppendLine("#include <xen/gntalloc.h>");
        c.AppendLine("#include <linux/udmabuf.h>");
        c.AppendLine("#include <linux/memfd.h>");
        c.AppendLine("#include <linux/fcntl.h>");
        c.AppendLine();
        c.AppendLine("int main(void)");
        c.AppendLine("{");
        foreach ((string s, string[] members) in CStructs)
        {
            c.AppendLine($"    printf(\"sizeof {s} %zu\\n\", sizeof(struct {s}));");
            foreach (string m in members)
            {
                c.AppendLine($"    printf(\"offsetof {s}.{m} %zu\\n\", offsetof(struct {s}, {m}));");
                c.AppendLine($"    printf(\"sizeof {s}.{m} %zu\\n\", sizeof(((struct {s} *)0)->{m}));");
            }
        }

        foreach (string k in CConstants)
        {
            c.AppendLine($"    printf(\"const {k} %llu\\n\", (unsigned long long)({k}));");
        }

        c.AppendLine("    return 0;");
        c.AppendLine("}");
        return c.ToString();
    }

    private static string? FindCompiler()
    {
        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (string name in new[] { "gcc", "cc" })
        {
            foreach (string p in path)
            {
                string candidate = Path.Combine(p, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process p = Process.Start(psi) ?? throw new Xunit.Sdk.XunitException($"could not start {file}");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"{file} did not finish within 60 s");
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>LinuxGrantDevice behaviour that needs no Xen: opening, local validation, the errno boundary.</summary>
public sealed class LinuxGrantDeviceTests
{
    [SkippableFact]
    public void OpenOfAMissingNodeThrowsUnavailableNamingThePathAndTheSimulator()
    {
        const string path = "/nonexistent/gntdev";
        GrantDeviceUnavailableException e = Assert.Throws<GrantDeviceUnavailableException>(() => LinuxGrantDevice.Open(path));
        Assert.Equal(path, e.DevicePath);
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("simulator", e.Message, StringComparison.Ordinal);
        Assert.Contains("CONFIG_XEN_GNTDEV", e.Message, StringComparison.Ordinal);
        Assert.Contains("CONFIG_XEN_GNTDEV_DMABUF", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<DmaBufFlags, ushort, int> InvalidExports => new()
    {
        { DmaBufFlags.None, 0, 0 },                                           // no pages
        { DmaBufFlags.None, 0, 65537 },                                       // above the page limit
        { DmaBufFlags.None, 0, -1 },                                          // negative count
        { DmaBufFlags.WriteCombine | DmaBufFlags.Coherent, 0, 1 },            // both DMA flags
        { DmaBufFlags.None, DomainId.FirstReserved, 1 },                      // DOMID_SELF
        { DmaBufFlags.Coherent, 0x7FFF, 4 },                                  // DOMID_IDLE
    };

    [Theory]
    [MemberData(nameof(InvalidExports))]
    public void ExportValidationRefusesWithEinval(DmaBufFlags flags, ushort domid, int count)
    {
        GntdevException e = Assert.Throws<GntdevException>(
            () => LinuxGrantDevice.ValidateExport(flags, new DomainId(domid), count, LinuxGrantDevice.DefaultPageLimit));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal("DMABUF_EXP_FROM_REFS", e.Operation);
    }

    [Theory]
    [InlineData(DmaBufFlags.None, 1)]
    [InlineData(DmaBufFlags.WriteCombine, 65536)]
    [InlineData(DmaBufFlags.Coherent, 3)]
    public void ExportValidationAcceptsValidArguments(DmaBufFlags flags, int count) =>
        LinuxGrantDevice.ValidateExport(flags, new DomainId(1), count, LinuxGrantDevice.DefaultPageLimit);

    [SkippableFact]
    public void ImportAndMapValidationRefuseWithEinval()
    {
        var reserved = new DomainId(DomainId.FirstReserved);
        Assert.Equal(Errno.EINVAL, Assert.Throws<GntdevException>(() => LinuxGrantDevice.ValidateImport(DomainId.Dom0, 0, 16)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<GntdevException>(() => LinuxGrantDevice.ValidateImport(DomainId.Dom0, 17, 16)).Errno);
        GntdevException imp = Assert.Throws<GntdevException>(() => LinuxGrantDevice.ValidateImport(reserved, 1, 16));
        Assert.Equal((Errno.EINVAL, "DMABUF_IMP_TO_REFS"), (imp.Errno, imp.Operation));

        Assert.Equal(Errno.EINVAL, Assert.Throws<GntdevException>(() => LinuxGrantDevice.ValidateMap(DomainId.Dom0, 0, 16)).Errno);
        GntdevException map = Assert.Throws<GntdevException>(() => LinuxGrantDevice.ValidateMap(reserved, 1, 16));
        Assert.Equal((Errno.EINVAL, "MAP_GRANT_REF"), (map.Errno, map.Operation));

        LinuxGrantDevice.ValidateImport(DomainId.Dom0, 16, 16);
        LinuxGrantDevice.ValidateMap(DomainId.Dom0, 1, 16);
    }

    [SkippableFact]
    public void PageLimitIsReadFromTheModuleParameterOrDefaults()
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("gntdev-limit-");
        try
        {
            string limit = Path.Combine(dir.FullName, "limit");
            Assert.Equal(LinuxGrantDevice.DefaultPageLimit, LinuxGrantDevice.ReadPageLimit(limit));
            File.WriteAllText(limit, "1024\n");
            Assert.Equal(1024, LinuxGrantDevice.ReadPageLimit(limit));
            File.WriteAllText(limit, "garbage\n");
            Assert.Equal(LinuxGrantDevice.DefaultPageLimit, LinuxGrantDevice.ReadPageLimit(limit));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>
    /// /dev/null opens read-write and answers every ioctl with ENOTTY: enough to drive the real ioctl
    /// path through the errno boundary without Xen.
    /// </summary>
    [SkippableFact]
    public void IoctlErrnoBecomesGntdevExceptionNamedAfterTheIoctl()
    {
        using LinuxGrantDevice device = LinuxGrantDevice.Open("/dev/null");
        Assert.Equal("/dev/null", device.DevicePath);

        GntdevException wait = Assert.Throws<GntdevException>(() => device.WaitReleased(1000, 0));
        Assert.Equal((Errno.ENOTTY, "DMABUF_EXP_WAIT_RELEASED"), (wait.Errno, wait.Operation));
        Assert.Contains("CONFIG_XEN_GNTDEV_DMABUF", wait.Message, StringComparison.Ordinal);

        GntdevException export = Assert.Throws<GntdevException>(() => device.ExportDmaBuf(DmaBufFlags.None, new DomainId(1), [1u, 2u, 3u]));
        Assert.Equal((Errno.ENOTTY, "DMABUF_EXP_FROM_REFS"), (export.Errno, export.Operation));

        GntdevException import = Assert.Throws<GntdevException>(() => device.ImportDmaBuf(1000, 2, new DomainId(1)));
        Assert.Equal((Errno.ENOTTY, "DMABUF_IMP_TO_REFS"), (import.Errno, import.Operation));

        GntdevException release = Assert.Throws<GntdevException>(() => device.ReleaseImport(1000));
        Assert.Equal((Errno.ENOTTY, "DMABUF_IMP_RELEASE"), (release.Errno, release.Operation));

        GntdevException map = Assert.Throws<GntdevException>(() => device.MapGrantRefs(new DomainId(1), [7u]));
        Assert.Equal((Errno.ENOTTY, "MAP_GRANT_REF"), (map.Errno, map.Operation));

        // Validation happens before the device is asked.
        GntdevException both = Assert.Throws<GntdevException>(
            () => device.ExportDmaBuf(DmaBufFlags.WriteCombine | DmaBufFlags.Coherent, new DomainId(1), [1u]));
        Assert.Equal(Errno.EINVAL, both.Errno);

        GntdevException close = Assert.Throws<GntdevException>(() => device.CloseFd(-1));
        Assert.Equal((Errno.EBADF, "close"), (close.Errno, close.Operation));
    }

    [SkippableFact]
    public void CallsAfterDisposeThrowObjectDisposed()
    {
        LinuxGrantDevice device = LinuxGrantDevice.Open("/dev/null");
        device.Dispose();
        device.Dispose();
        Assert.Throws<ObjectDisposedException>(() => device.WaitReleased(3, 0));
        Assert.Throws<ObjectDisposedException>(() => device.ExportDmaBuf(DmaBufFlags.None, new DomainId(1), [1u]));
    }
}
