namespace BufferActors.Native;

/// <summary>A Xen domain id (<c>domid_t</c>, 16 bits).</summary>
/// <remarks>
/// Ids at or above <see cref="FirstReserved"/> (0x7FF0) name pseudo-domains (DOMID_SELF, DOMID_IO, ...)
/// that can never grant or be granted pages; every operation refuses them up front.
/// </remarks>
public readonly record struct DomainId(ushort Value)
{
    /// <summary>DOMID_FIRST_RESERVED: the first id that is not a real domain.</summary>
    public const ushort FirstReserved = 0x7FF0;

    /// <summary>Domain 0, the usual backend domain.</summary>
    public static DomainId Dom0 => new(0);

    /// <summary>True for DOMID_SELF, DOMID_IO and the other reserved ids.</summary>
    public bool IsReserved => Value >= FirstReserved;

    /// <summary>Throws <see cref="GntdevException"/> (EINVAL) when the id is reserved.</summary>
    public DomainId EnsureReal(string operation) =>
        IsReserved
            ? throw new GntdevException(operation, Errno.EINVAL, $"domain id 0x{Value:X4} is reserved (>= DOMID_FIRST_RESERVED 0x7FF0)")
            : this;

    /// <inheritdoc />
    public override string ToString() => $"d{Value}";
}
