namespace BufferActors.Native;

/// <summary>CPU access to a run of 4 KiB pages that alias foreign or device memory (no copies).</summary>
public abstract class PageView
{
    /// <summary>Creates a view; a <paramref name="readOnly"/> one hands out its bytes only for reading.</summary>
    protected PageView(bool readOnly = false) => IsReadOnly = readOnly;

    /// <summary>Size of one page in bytes.</summary>
    public const int PageSize = 4096;

    /// <summary>Number of pages in the view.</summary>
    public abstract int PageCount { get; }

    /// <summary>True when the pages are mapped read-only: <see cref="Page"/> is refused, <see cref="Read"/> works.</summary>
    public bool IsReadOnly { get; }

    /// <summary>The bytes of page <paramref name="index"/>, for reading.</summary>
    public ReadOnlySpan<byte> Read(int index) => Bytes(index);

    /// <summary>The bytes of page <paramref name="index"/>; writes go straight to the shared page.</summary>
    /// <exception cref="InvalidOperationException">The view is read-only (a write through a real read-only mapping would fault).</exception>
    public Span<byte> Page(int index) => IsReadOnly
        ? throw new InvalidOperationException("the pages are mapped read-only: read them with Read; no write may reach the granter's page")
        : Bytes(index);

    /// <summary>The bytes of page <paramref name="index"/>, whatever the view's protection.</summary>
    protected abstract Span<byte> Bytes(int index);
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
