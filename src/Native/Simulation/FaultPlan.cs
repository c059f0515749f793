namespace BufferActors.Native.Simulation;

/// <summary>
/// A seeded, deterministic plan of failures for the simulator. Rules are checked in the order they
/// were added at every <see cref="FaultSite"/>; the same seed and the same sequence of operations
/// always inject the same faults, so a failing seed reproduces.
/// </summary>
/// <remarks>The fault model (every site, its errno, what it stands for, what catches it) is docs/fault-model.md.</remarks>
public sealed class FaultPlan
{
    private readonly List<Rule> _rules = [];
    private readonly Dictionary<FaultSite, int> _hits = [];
    private readonly List<InjectedFault> _injected = [];
    private readonly HashSet<DomainId> _keepRemote = [];
    private readonly HashSet<FaultSite> _calm = []; // sites the random rules leave alone
    private Random _random;
    private double _probability;

    /// <summary>Creates an empty plan; <paramref name="seed"/> drives the random rules.</summary>
    public FaultPlan(int seed = 0)
    {
        Seed = seed;
        _random = new Random(seed);
    }

    /// <summary>The seed of the random rules.</summary>
    public int Seed { get; }

    /// <summary>Every fault injected so far, in order.</summary>
    public IReadOnlyList<InjectedFault> Injected => _injected;

    /// <summary>A plan that injects nothing.</summary>
    public static FaultPlan None => new();

    /// <summary>Fails the <paramref name="occurrence"/>-th call (1-based) at <paramref name="site"/>, <paramref name="times"/> times in a row.</summary>
    public FaultPlan FailAt(FaultSite site, Errno errno, int occurrence = 1, int times = 1)
    {
        _rules.Add(new Rule(site, occurrence, times, errno, null, null, null));
        return this;
    }

    /// <summary>Makes page <paramref name="page"/> of the <paramref name="occurrence"/>-th map fail with <paramref name="status"/>.</summary>
    /// <remarks>With <see cref="GrantStatus.Eagain"/>, <paramref name="times"/> is how many tries of that page fail.</remarks>
    public FaultPlan FailMapAtPage(int page, GrantStatus status, int occurrence = 1, int times = 1)
    {
        _rules.Add(new Rule(FaultSite.MapPage, occurrence, times, Errno.EINVAL, status, page, null));
        return this;
    }

    /// <summary>Destroys <paramref name="victim"/> just before the <paramref name="occurrence"/>-th step at <paramref name="site"/>.</summary>
    public FaultPlan KillDomainAt(FaultSite site, DomainId victim, int occurrence = 1)
    {
        _rules.Add(new Rule(site, occurrence, 1, Errno.None, null, null, victim));
        return this;
    }

    /// <summary>The remote domain maps every page granted to it by an import and keeps it mapped until it dies or <see cref="XenSimulator.UnmapAllForeign"/> is called.</summary>
    public FaultPlan KeepRemoteMapping(DomainId remote)
    {
        _keepRemote.Add(remote);
        return this;
    }

    /// <summary>At every site, fails with probability <paramref name="probability"/> (seeded coin flip) with an errno plausible for that site.</summary>
    public FaultPlan WithRandomFaults(double probability)
    {
        _probability = probability;
        _random = new Random(Seed);
        return this;
    }

    /// <summary>
    /// The random rules leave <paramref name="site"/> alone, and its calls draw nothing from the seeded coin: for a
    /// site that background timers call (a held export's release probes), whose number of calls depends on time,
    /// which would make the faults of every later call depend on it too.
    /// </summary>
    public FaultPlan WithoutRandomFaultsAt(FaultSite site)
    {
        _calm.Add(site);
        return this;
    }

    internal bool KeepsRemoteMapping(DomainId remote) => _keepRemote.Contains(remote);

    /// <summary>Counts a call at <paramref name="site"/> and returns the fault to inject there, if any.</summary>
    internal InjectedFault? Hit(FaultSite site, Action<DomainId> kill)
    {
        int n = _hits[site] = _hits.GetValueOrDefault(site) + 1;
        foreach (var rule in _rules)
        {
            if (rule.Site != site || rule.Page is not null) continue;
            if (rule.Victim is { } victim)
            {
                if (n != rule.Occurrence) continue;
                _injected.Add(new InjectedFault(site, Errno.None));
                kill(victim);
                continue;
            }
            if (n >= rule.Occurrence && n < rule.Occurrence + rule.Times)
                return Record(new InjectedFault(site, rule.Errno));
        }
        if (_probability > 0 && !IsReleasePath(site) && site != FaultSite.MapPage && !_calm.Contains(site) && _random.NextDouble() < _probability)
            return Record(RandomFault(site));
        return null;
    }

    /// <summary>Starts a multi-page map; returns its ordinal and, for random plans, which page will fail.</summary>
    internal (int Ordinal, int? RandomFailPage) BeginMap(int pageCount)
    {
        int n = _hits[FaultSite.MapPage] = _hits.GetValueOrDefault(FaultSite.MapPage) + 1;
        int? page = _probability > 0 && _random.NextDouble() < _probability ? _random.Next(pageCount) : null;
        return (n, page);
    }

    /// <summary>One try at mapping page <paramref name="page"/> of map number <paramref name="ordinal"/>.</summary>
    internal InjectedFault? HitPage(int ordinal, int page, int? randomFailPage)
    {
        foreach (var rule in _rules)
        {
            if (rule.Site != FaultSite.MapPage || rule.Page != page || rule.Occurrence != ordinal || rule.Used >= rule.Times) continue;
            rule.Used++;
            return Record(new InjectedFault(FaultSite.MapPage, Errno.EINVAL, rule.Status, page));
        }
        if (randomFailPage == page)
            return Record(new InjectedFault(FaultSite.MapPage, Errno.EINVAL, (_random.Next(3)) switch
            {
                0 => GrantStatus.BadGntref,
                1 => GrantStatus.NoDeviceSpace,
                _ => GrantStatus.GeneralError,
            }, page));
        return null;
    }

    /// <summary>
    /// UNMAP_GRANT_REF and IMP_RELEASE have no transient failure in the kernel (only "no such object"),
    /// so random plans never fail them; explicit <see cref="FailAt"/> rules still can.
    /// </summary>
    private static bool IsReleasePath(FaultSite site) => site is FaultSite.UnmapGrantRefs or FaultSite.ImportRelease;

    private InjectedFault Record(InjectedFault fault)
    {
        _injected.Add(fault);
        return fault;
    }

    private InjectedFault RandomFault(FaultSite site) => site switch
    {
        FaultSite.ReservationDecrease => new InjectedFault(site, Errno.ENOMEM),
        FaultSite.ImportAllocateRefs => new InjectedFault(site, Errno.ENOSPC),
        FaultSite.ImportCopyOut => new InjectedFault(site, Errno.EFAULT),
        FaultSite.DeviceMap => new InjectedFault(site, Errno.ENOMEM),
        _ => new InjectedFault(site, _random.Next(2) == 0 ? Errno.ENOMEM : Errno.EINVAL),
    };

    private sealed class Rule(FaultSite site, int occurrence, int times, Errno errno, GrantStatus? status, int? page, DomainId? victim)
    {
        public FaultSite Site { get; } = site;
        public int Occurrence { get; } = occurrence;
        public int Times { get; } = times;
        public Errno Errno { get; } = errno;
        public GrantStatus? Status { get; } = status;
        public int? Page { get; } = page;
        public DomainId? Victim { get; } = victim;
        public int Used { get; set; }
    }
}
