namespace BufferActors.Native;

/// <summary>CPU access to a run of 4 KiB pages that alias foreign or device memory (no copies).</summary>
public abstract class PageView
{
    /// <summary>Size of one page in bytes.</summary>
    public const int PageSize = 4096;

    /// <summary>Number of pages in the view.</summary>
    public abstract int PageCount { get; }

    /// <summary>The bytes of page <paramref name="index"/>; writes go straight to the shared page.</summary>
    public abstract Span<byte> Page(int index);
}

/// <summary>Foreign grant references mapped into this process by MAP_GRANT_REF + mmap.</summary>
public sealed class GrantMapping
{
    /// <summary>Creates the handle; only device implementations do this.</summary>
    public GrantMapping(ulong index, DomainId domain, IReadOnlyList<uint> refs, bool readOnly, PageView pages)
    {
        Index = index;
        Domain = domain;
        Refs = refs;
        ReadOnly = readOnly;
        Pages = pages;
    }

    /// <summary>The mmap offset the device assigned to this map (MAP_GRANT_REF's <c>index</c>).</summary>
    public ulong Index { get; }

    /// <summary>The granting domain.</summary>
    public DomainId Domain { get; }

    /// <summary>The mapped references, in page order.</summary>
    public IReadOnlyList<uint> Refs { get; }

    /// <summary>True when mapped read-only.</summary>
    public bool ReadOnly { get; }

    /// <summary>The mapped pages. Invalid once unmapped.</summary>
    public PageView Pages { get; }

    /// <summary>Number of pages.</summary>
    public int PageCount => Refs.Count;
}
