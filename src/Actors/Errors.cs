namespace BufferActors.Actors;

/// <summary>Why a request was refused or failed.</summary>
public enum ErrorCode
{
    /// <summary>The grant device returned an error (see <see cref="OperationFailed.Errno"/>).</summary>
    Device,
    /// <summary>A per-domain quota (buffers or pages) would be exceeded.</summary>
    QuotaExceeded,
    /// <summary>No such lifecycle (never existed, or already finished).</summary>
    NotFound,
    /// <summary>The request does not fit the lifecycle's state (e.g. attach after release).</summary>
    InvalidState,
    /// <summary>The request itself is malformed (direction NONE, empty consumer, reserved domain...).</summary>
    InvalidArgument,
    /// <summary>The frontend domain is dead; no new lifecycle is started for it.</summary>
    DomainDead,
    /// <summary>The journal failed or rejected the write; the lifecycle was stopped and released what it held.</summary>
    Journal,
    /// <summary>The lifecycle's actor stopped (it failed) before it could answer; it released what it held.</summary>
    Stopped,
}

/// <summary>The reply to a request that failed; nothing else changed.</summary>
/// <param name="Code">Category.</param>
/// <param name="Detail">Human-readable reason.</param>
/// <param name="Errno">For <see cref="ErrorCode.Device"/>: the errno.</param>
/// <param name="GrantStatus">For grant-map failures: the first failing page's GNTST status.</param>
public sealed record OperationFailed(ErrorCode Code, string Detail, Errno? Errno = null, GrantStatus? GrantStatus = null)
{
    internal static OperationFailed From(GntdevException e) => new(ErrorCode.Device, e.Message, e.Errno, e.GrantStatus);
}

/// <summary>A request failed; thrown by <see cref="Api.BufferActorsClient"/>.</summary>
public sealed class BufferActorsException(OperationFailed failure) : Exception(failure.Detail)
{
    /// <summary>What failed.</summary>
    public OperationFailed Failure { get; } = failure;

    /// <summary>Shortcut for <see cref="OperationFailed.Code"/>.</summary>
    public ErrorCode Code => Failure.Code;
}
