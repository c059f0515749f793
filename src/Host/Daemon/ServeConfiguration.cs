using System.Globalization;
using BufferActors.Native;
using BufferActors.Native.Linux;

namespace BufferActors.Host.Daemon;

/// <summary>
/// What <c>serve</c> runs with, bound from the section <c>Serve</c> of, in rising precedence: the JSON file given by
/// <c>--config</c>, environment variables (<c>BUFFERACTORS_Serve__Socket</c>, <c>BUFFERACTORS_Serve__Allow__0</c>, ...)
/// and the command line's options. docs/operations.md lists every key.
/// </summary>
public sealed class ServeConfiguration
{
    /// <summary>Path of the Unix socket.</summary>
    public string? Socket { get; set; }

    /// <summary><c>linux</c> or <c>simulator</c>.</summary>
    public string Device { get; set; } = "linux";

    /// <summary>The gntdev node.</summary>
    public string DevicePath { get; set; } = "/dev/xen/gntdev";

    /// <summary>SQLite journal file.</summary>
    public string? Journal { get; set; }

    /// <summary>PostgreSQL connection string for the journal.</summary>
    public string? Postgres { get; set; }

    /// <summary>What an acknowledged write of the SQLite journal survives: <c>process</c> (a crash of the daemon) or <c>power</c> (a power loss too).</summary>
    public string JournalDurability { get; set; } = "process";

    /// <summary>Permission bits of the socket file, octal.</summary>
    public string Mode { get; set; } = "660";

    /// <summary>Group of the socket file (a name or a gid); the daemon's own group when null.</summary>
    public string? Group { get; set; }

    /// <summary><c>HOST:PORT</c> of a Prometheus scrape endpoint (<c>/metrics</c>) for the BufferActors meter; none when null.</summary>
    public string? MetricsListen { get; set; }

    /// <summary>Simulator: frontend domains.</summary>
    public int Frontends { get; set; } = 2;

    /// <summary>Simulator: pages each frontend grants.</summary>
    public int Pages { get; set; } = 64;

    /// <summary>Uids allowed, each <c>UID</c> or <c>UID:DOMID,DOMID,...</c>.</summary>
    public string[] Allow { get; set; } = [];

    /// <summary>Uids that may read the daemon's status.</summary>
    public int[] Operators { get; set; } = [];

    /// <summary>Seconds a stop waits for clients' lifecycles to end.</summary>
    public int Grace { get; set; } = 10;

    /// <summary>Requests a connection may have unanswered.</summary>
    public int MaxInFlight { get; set; } = 64;

    /// <summary>Lifecycles a connection may own.</summary>
    public int MaxLifecycles { get; set; } = 1024;

    /// <summary>Pages a connection's lifecycles may hold.</summary>
    public long MaxPages { get; set; } = 262_144;

    /// <summary>Lifecycles a uid may own over all its connections.</summary>
    public int MaxLifecyclesPerUid { get; set; } = 4096;

    /// <summary>Pages a uid's lifecycles may hold over all its connections.</summary>
    public long MaxPagesPerUid { get; set; } = 1_048_576;

    /// <summary>Milliseconds a reply may wait for room in a client's socket before the client is cut off.</summary>
    public int SendTimeoutMs { get; set; } = 5000;

    /// <summary>The problems of this configuration, each one line naming the key; empty when it can run.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (string.IsNullOrEmpty(Socket)) problems.Add("Socket (--socket) is required");
        if (Device is not ("linux" or "simulator")) problems.Add($"Device (--device) is {Device}, not linux or simulator");
        if (!IsOctal(Mode)) problems.Add($"Mode (--mode) {Mode} is not octal permission bits");
        if (Group is not null && GroupProblem(Group) is { } group) problems.Add(group);
        if (MetricsListen is not null && MetricsEndpoint is null) problems.Add($"MetricsListen (--metrics-listen) {MetricsListen} is not HOST:PORT (e.g. 127.0.0.1:9464)");
        if (Journal is not null && Postgres is not null) problems.Add("Journal (--journal) and Postgres (--postgres) exclude each other");
        if (JournalDurability is not ("process" or "power")) problems.Add($"JournalDurability (--journal-durability) is {JournalDurability}, not process or power");
        if (Frontends is < 1 or > 64) problems.Add("Frontends (--frontends) must be 1..64");
        if (Pages is < 1 or > 65536) problems.Add("Pages (--pages) must be 1..65536");
        if (Grace < 0) problems.Add("Grace (--grace) must not be negative");
        if (MaxInFlight < 1 || MaxLifecycles < 1 || MaxPages < 1 || MaxLifecyclesPerUid < 1 || MaxPagesPerUid < 1) problems.Add("every Max* limit must be at least 1");
        if (SendTimeoutMs < 1) problems.Add("SendTimeoutMs must be at least 1");
        return problems;
    }

    /// <summary>The socket file's group id, when <see cref="Group"/> names one.</summary>
    public int? GroupId => Group is null ? null : LinuxProcess.GroupId(Group);

    private static string? GroupProblem(string group)
    {
        try
        {
            return group.Length > 0 && LinuxProcess.GroupId(group) is not null ? null : $"Group (--group) {group}: no such group";
        }
        catch (NativeCallException e)
        {
            return $"Group (--group) {group}: {e.Message}";
        }
    }

    /// <summary>The socket file's permission bits.</summary>
    public int ModeBits => Convert.ToInt32(Mode, 8);

    /// <summary>The owner's policy widened by <see cref="Allow"/> and <see cref="Operators"/>, with these limits.</summary>
    /// <exception cref="FormatException">An Allow entry is not UID or UID:DOMID,...; a domid is reserved.</exception>
    public DaemonPolicy Policy() => AllowedPolicy() with
    {
        MaxInFlight = MaxInFlight,
        MaxLifecycles = MaxLifecycles,
        MaxPages = MaxPages,
        MaxLifecyclesPerUid = MaxLifecyclesPerUid,
        MaxPagesPerUid = MaxPagesPerUid,
        SendTimeout = TimeSpan.FromMilliseconds(SendTimeoutMs),
    };

    /// <summary>The owner's policy widened by <see cref="Allow"/> and <see cref="Operators"/>.</summary>
    private DaemonPolicy AllowedPolicy()
    {
        var owner = DaemonPolicy.OwnerOnly();
        var domains = new Dictionary<int, IReadOnlySet<ushort>?>(owner.DomainsByUid);
        foreach (string entry in Allow)
        {
            var parts = entry.Split(':', 2);
            if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int uid))
                throw new FormatException($"--allow {entry}: UID or UID:DOMID,DOMID,... expected");
            if (parts.Length == 1)
            {
                domains[uid] = null;
                continue;
            }
            var ids = new HashSet<ushort>();
            foreach (string id in parts[1].Split(','))
            {
                if (!ushort.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out ushort domid) || new DomainId(domid).IsReserved)
                    throw new FormatException($"--allow {entry}: {id} is not a frontend domain id (0..{DomainId.FirstReserved - 1})");
                ids.Add(domid);
            }
            domains[uid] = ids;
        }
        return owner with { DomainsByUid = domains, Operators = new HashSet<int>(owner.Operators.Concat(Operators)) };
    }

    /// <summary><see cref="MetricsListen"/> as host and port; null when it is none, or not <c>HOST:PORT</c>.</summary>
    public (string Host, int Port)? MetricsEndpoint
    {
        get
        {
            if (MetricsListen is not { } listen) return null;
            int colon = listen.LastIndexOf(':');
            if (colon <= 0 || listen.AsSpan(0, colon).ContainsAny("/ ")) return null;
            return ushort.TryParse(listen.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ushort port) && port > 0
                ? (listen[..colon], port) : null;
        }
    }

    private static bool IsOctal(string mode) => mode.Length is > 0 and <= 4 && mode.All(c => c is >= '0' and <= '7');
}
