using System.Diagnostics;

namespace BufferActors.Actors.Dispatch;

/// <summary>
/// Something due at a time, kept on a <see cref="DeadlineWheel"/> until then or until cancelled: the node of the
/// wheel's lists itself, so a pending deadline costs its own few fields and nothing else.
/// </summary>
internal abstract class Deadline
{
    internal Deadline? Previous, Next;
    internal long DueTick = -1; // -1: not on a wheel

    /// <summary>Called once, on a thread-pool thread, when the deadline passed; not called if it was cancelled first. Must not throw.</summary>
    protected internal abstract void Expire();
}

/// <summary>
/// A hashed timing wheel for deadlines that are usually cancelled before they pass — every pending
/// <c>WaitReleased</c>'s time-out on both sides of the API. A .NET timer costs ~150 B and an Akka timer ~450 B (the
/// actor's timer table, the scheduler's registration, the message and its envelope); here a deadline is the
/// <see cref="Deadline"/> object its owner holds anyway, linked into one of the wheel's slots. With 100,000 lifecycles
/// each waiting for its release, timers would be most of what a pending wait costs (docs/performance.md, "Scale").
/// </summary>
/// <remarks>
/// Resolution is one tick (10 ms, Akka's scheduler's default): a deadline expires never early and at most a tick
/// late, give or take the timer's own lateness. One timer
/// advances the wheel while anything is on it; each advance looks at the slots of the ticks that passed, where a
/// deadline further away than one turn of the wheel waits for the turn it is due in. Schedule and cancel are O(1)
/// under one short lock (<see cref="DeadlineWheels"/> spreads deadlines over one wheel per core).
/// </remarks>
internal sealed class DeadlineWheel : IDisposable
{
    private readonly object _gate = new();
    private readonly Deadline?[] _slots;
    private readonly long _tickTimestamps; // stopwatch ticks per wheel tick
    private readonly long _origin = Stopwatch.GetTimestamp();
    private readonly Timer _timer;
    private readonly TimeSpan _tick;
    private long _processedThrough; // every deadline due at or before this tick has expired
    private int _count;
    private bool _running;

    /// <summary>A wheel of <paramref name="slots"/> slots advancing every <paramref name="tick"/>.</summary>
    public DeadlineWheel(TimeSpan tick, int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tick, TimeSpan.FromMilliseconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        _tick = tick;
        _slots = new Deadline?[slots];
        _tickTimestamps = Math.Max(1, (long)(tick.TotalSeconds * Stopwatch.Frequency));
        _timer = new Timer(static w => ((DeadlineWheel)w!).Advance(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>How many deadlines are pending.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _count;
        }
    }

    /// <summary>Puts <paramref name="deadline"/> (not on a wheel) on the wheel, due <paramref name="after"/> from now.</summary>
    public void Schedule(Deadline deadline, TimeSpan after)
    {
        long ticks = after <= TimeSpan.Zero ? 1 : (long)Math.Ceiling(after.Ticks / (double)_tick.Ticks);
        lock (_gate)
        {
            if (deadline.DueTick >= 0) throw new InvalidOperationException("the deadline is scheduled already");
            // One tick more than the delay: now is somewhere inside the current tick, and a deadline never expires early.
            deadline.DueTick = Math.Max(Now(), _processedThrough) + ticks + 1;
            Link(deadline);
            if (++_count == 1 && !_running)
            {
                _running = true;
                _timer.Change(_tick, _tick);
            }
        }
    }

    /// <summary>Takes <paramref name="deadline"/> off the wheel; false if it was not on it (expired, cancelled or never scheduled).</summary>
    public bool Cancel(Deadline deadline)
    {
        lock (_gate)
        {
            if (deadline.DueTick < 0) return false;
            Unlink(deadline);
            _count--;
            return true;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _timer.Dispose();

    private long Now() => (Stopwatch.GetTimestamp() - _origin) / _tickTimestamps;

    private void Advance()
    {
        List<(long DueTick, Deadline Deadline)>? due = null; // expired outside the lock, in the order they fell due
        lock (_gate)
        {
            long now = Now();
            // Every slot once at most: past one turn, each slot has been looked at for every tick it holds.
            long from = Math.Max(_processedThrough + 1, now - _slots.Length + 1);
            for (long tick = from; tick <= now; tick++)
            {
                var node = _slots[tick % _slots.Length];
                while (node is not null)
                {
                    var next = node.Next;
                    if (node.DueTick <= now)
                    {
                        (due ??= []).Add((node.DueTick, node));
                        Unlink(node);
                        _count--;
                    }
                    node = next;
                }
            }
            _processedThrough = now;
            if (_count == 0 && _running)
            {
                _running = false;
                _timer.Change(Timeout.Infinite, Timeout.Infinite);
            }
        }
        if (due is null) return;
        // A late advance (the timer held up past a turn) finds them slot by slot, not in time order.
        if (due.Count > 1) due.Sort(static (a, b) => a.DueTick.CompareTo(b.DueTick));
        foreach (var (_, deadline) in due) deadline.Expire();
    }

    private void Link(Deadline deadline)
    {
        ref var head = ref _slots[deadline.DueTick % _slots.Length];
        deadline.Previous = null;
        deadline.Next = head;
        if (head is not null) head.Previous = deadline;
        head = deadline;
    }

    private void Unlink(Deadline deadline)
    {
        if (deadline.Previous is { } previous) previous.Next = deadline.Next;
        else _slots[deadline.DueTick % _slots.Length] = deadline.Next;
        if (deadline.Next is { } next) next.Previous = deadline.Previous;
        deadline.Previous = deadline.Next = null;
        deadline.DueTick = -1;
    }
}

/// <summary>
/// The deadline wheels every part of the process shares: one per core, a deadline always on the one its identity hash
/// picks, so that requests of different frontends on different cores do not all take one lock to schedule and cancel
/// their time-outs (as .NET partitions its own timer queues). Each wheel's timer runs only while it holds a deadline.
/// </summary>
internal sealed class DeadlineWheels
{
    private readonly DeadlineWheel[] _wheels;

    private DeadlineWheels(int count, TimeSpan tick, int slots) =>
        _wheels = [.. Enumerable.Range(0, count).Select(_ => new DeadlineWheel(tick, slots))];

    /// <summary>The process's wheels: 10 ms ticks, Akka's scheduler's resolution.</summary>
    public static DeadlineWheels Shared { get; } = new(Environment.ProcessorCount, TimeSpan.FromMilliseconds(10), 1024);

    /// <summary>Puts <paramref name="deadline"/> on its wheel, due <paramref name="after"/> from now (<see cref="DeadlineWheel.Schedule"/>).</summary>
    public void Schedule(Deadline deadline, TimeSpan after) => WheelOf(deadline).Schedule(deadline, after);

    /// <summary>Takes <paramref name="deadline"/> off its wheel (<see cref="DeadlineWheel.Cancel"/>).</summary>
    public bool Cancel(Deadline deadline) => WheelOf(deadline).Cancel(deadline);

    private DeadlineWheel WheelOf(Deadline deadline) =>
        _wheels[(int)((uint)System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(deadline) % (uint)_wheels.Length)];
}
