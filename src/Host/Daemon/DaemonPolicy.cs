using BufferActors.Native;
using BufferActors.Native.Linux;

namespace BufferActors.Host.Daemon;

/// <summary>
/// Who may do what through the daemon: which peer uids may act for which frontend domains, and each connection's
/// limits (docs/protocol.md, "Ownership, limits and death").
/// </summary>
/// <param name="DomainsByUid">For each uid allowed to connect, the frontend domains it may act for (null: any domain).</param>
/// <param name="MaxInFlight">Requests a connection may have unanswered at once.</param>
/// <param name="MaxLifecycles">Lifecycles a connection may own at once.</param>
public sealed record DaemonPolicy(IReadOnlyDictionary<int, IReadOnlySet<ushort>?> DomainsByUid, int MaxInFlight = 64, int MaxLifecycles = 1024)
{
    /// <summary>Pages a connection's lifecycles may hold at once (default 262,144: 1 GiB).</summary>
    public long MaxPages { get; init; } = 262_144;

    /// <summary>Lifecycles one uid may own over all its connections.</summary>
    public int MaxLifecyclesPerUid { get; init; } = 4096;

    /// <summary>Pages one uid's lifecycles may hold over all its connections (default 1,048,576: 4 GiB).</summary>
    public long MaxPagesPerUid { get; init; } = 1_048_576;

    /// <summary>How long a reply may wait for room in a client's socket before the client is cut off as too slow.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Uids that may read the daemon's status (<c>DAEMON_STATUS</c>): counts over every client.</summary>
    public IReadOnlySet<int> Operators { get; init; } = new HashSet<int>();

    /// <summary>Only the daemon's own uid, for any frontend domain, and as its operator.</summary>
    public static DaemonPolicy OwnerOnly() => new(new Dictionary<int, IReadOnlySet<ushort>?> { [LinuxProcess.Uid()] = null })
    {
        Operators = new HashSet<int> { LinuxProcess.Uid() },
    };

    /// <summary>True when a peer of <paramref name="uid"/> may connect at all.</summary>
    public bool MayConnect(int uid) => DomainsByUid.ContainsKey(uid) || Operators.Contains(uid);

    /// <summary>True when a peer of <paramref name="uid"/> may read the daemon's status.</summary>
    public bool IsOperator(int uid) => Operators.Contains(uid);

    /// <summary>True when a peer of <paramref name="uid"/> may act for frontend <paramref name="domain"/>.</summary>
    public bool MayActFor(int uid, DomainId domain) =>
        !domain.IsReserved && DomainsByUid.TryGetValue(uid, out var domains) && (domains is null || domains.Contains(domain.Value));
}
