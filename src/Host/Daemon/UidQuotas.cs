using System.Collections.Concurrent;

namespace BufferActors.Host.Daemon;

/// <summary>
/// Lifecycles and pages held per peer uid over all its connections, against the policy's per-uid limits: one uid
/// opening many connections cannot take more than its share (docs/protocol.md, "Ownership, limits and death").
/// </summary>
internal sealed class UidQuotas(DaemonPolicy policy)
{
    private readonly ConcurrentDictionary<int, (int Lifecycles, long Pages)> _held = new();

    /// <summary>Takes one lifecycle of <paramref name="pages"/> pages for <paramref name="uid"/>; null, or why not.</summary>
    public string? TryTake(int uid, int pages)
    {
        string? refused = null;
        _held.AddOrUpdate(uid, _ => Take((0, 0)), (_, held) => Take(held));
        return refused;

        (int, long) Take((int Lifecycles, long Pages) held)
        {
            refused = null;
            if (held.Lifecycles + 1 > policy.MaxLifecyclesPerUid) refused = $"uid {uid} holds {held.Lifecycles} lifecycles, the most it may";
            else if (held.Pages + pages > policy.MaxPagesPerUid) refused = $"uid {uid} holds {held.Pages} pages; {pages} more exceed its {policy.MaxPagesPerUid}";
            return refused is null ? (held.Lifecycles + 1, held.Pages + pages) : held;
        }
    }

    /// <summary>Gives back what <see cref="TryTake"/> took.</summary>
    public void Give(int uid, int pages) => _held.AddOrUpdate(uid, _ => (0, 0), (_, held) => (held.Lifecycles - 1, held.Pages - pages));
}
