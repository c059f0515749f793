using System.Collections;

namespace BufferActors.Native.Simulation;

/// <summary>
/// A gntdev map: foreign refs mapped into the backend domain. Each page's map state is tracked on
/// its own, so a partial failure undoes exactly the pages that did map (the 2022 kernel fix
/// "xen/gntdev: Prevent leaking grants" is about getting this wrong).
/// </summary>
internal sealed class GrantMap
{
    private readonly XenSimulator _sim;
    private readonly BitArray _mapped;

    public GrantMap(XenSimulator sim, DomainId granter, DomainId mapper, uint[] refs, bool readOnly)
    {
        _sim = sim;
        Granter = granter;
        Mapper = mapper;
        Refs = refs;
        ReadOnly = readOnly;
        Frames = new uint[refs.Length];
        _mapped = new BitArray(refs.Length);
    }

    public DomainId Granter { get; }
    public DomainId Mapper { get; }
    public uint[] Refs { get; }
    public uint[] Frames { get; }
    public bool ReadOnly { get; }
    public int MappedPages { get; private set; }

    /// <summary>
    /// For a map made for another process: the memfd holding the copy of the pages that process maps. A writable
    /// map's copy is written back to the granter's pages when the map is unmapped, and the memfd is closed here.
    /// </summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle? PeerCopy { get; set; }

    /// <summary>SET_UNMAP_NOTIFY's byte offset into the map, cleared in the granter's page when the map is unmapped.</summary>
    public int? Notify { get; set; }

    /// <summary>
    /// Maps every page (a batch: later pages are tried even after one fails, as the hypercall does).
    /// Returns the first failing page and its status, or null when all mapped. Pages that mapped stay
    /// mapped; the caller decides to <see cref="UnmapAll"/>.
    /// </summary>
    public (int Page, GrantStatus Status)? MapAll()
    {
        var (ordinal, randomFail) = _sim.Faults.BeginMap(Refs.Length);
        (int, GrantStatus)? first = null;
        for (int i = 0; i < Refs.Length; i++)
        {
            var status = MapPage(ordinal, i, randomFail);
            if (status == GrantStatus.Okay)
            {
                _mapped[i] = true;
                MappedPages++;
            }
            else first ??= (i, status);
        }
        return first;
    }

    /// <summary>Unmaps exactly the pages that are mapped; safe to call more than once.</summary>
    public void UnmapAll()
    {
        if (PeerCopy is { } copy)
        {
            PeerCopy = null;
            if (!ReadOnly) WriteBack(copy);
            copy.Dispose();
        }

        // gntdev clears the notify byte just before the unmap, while the page is still mapped.
        if (Notify is { } offset && MappedPages > 0)
        {
            int page = offset / PageView.PageSize;
            if (_mapped[page]) _sim.Domain(Granter).Memory.Page(Frames[page])[offset % PageView.PageSize] = 0;
            Notify = null;
        }

        for (int i = 0; i < Refs.Length && MappedPages > 0; i++)
        {
            if (!_mapped[i]) continue;
            _sim.UnmapGrant(Granter, Refs[i], ReadOnly);
            _mapped[i] = false;
            MappedPages--;
        }
    }

    /// <summary>Fills a new memfd with the mapped pages for another process; read-only maps get it sealed against writes.</summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle CopyForPeer()
    {
        var memory = _sim.Domain(Granter).Memory;
        int fd = Linux.SharedMemory.CreateMemfd($"grant-map-{Granter.Value}", (long)Refs.Length * PageView.PageSize, allowSealing: true);
        var file = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        try
        {
            for (int i = 0; i < Refs.Length; i++)
                RandomAccess.Write(file, memory.Page(Frames[i]), (long)i * PageView.PageSize);
            if (ReadOnly) Linux.SharedMemory.SealReadOnly(fd);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private void WriteBack(Microsoft.Win32.SafeHandles.SafeFileHandle copy)
    {
        var memory = _sim.Domain(Granter).Memory;
        for (int i = 0; i < Refs.Length; i++)
        {
            if (_mapped[i]) RandomAccess.Read(copy, memory.Page(Frames[i]), (long)i * PageView.PageSize);
        }
    }

    private GrantStatus MapPage(int ordinal, int page, int? randomFail)
    {
        // GNTST_eagain is transient: the kernel retries with back-off, then reports bad_page.
        for (int attempt = 0; ; attempt++)
        {
            var status = _sim.Faults.HitPage(ordinal, page, randomFail)?.Status
                ?? _sim.MapGrant(Granter, Refs[page], Mapper, ReadOnly, out Frames[page]);
            if (status != GrantStatus.Eagain) return status;
            if (attempt + 1 >= _sim.Options.EagainRetries) return GrantStatus.BadPage;
        }
    }
}
