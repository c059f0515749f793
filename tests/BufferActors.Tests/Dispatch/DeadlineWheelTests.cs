using System.Collections.Concurrent;
using System.Diagnostics;
using BufferActors.Actors.Dispatch;

namespace BufferActors.Tests.Dispatch;

/// <summary>The deadline wheel: a deadline expires once, not before it is due, and never once cancelled.</summary>
public sealed class DeadlineWheelTests
{
    private sealed class Probe(ConcurrentQueue<(Probe, long)> expired) : Deadline
    {
        protected internal override void Expire() => expired.Enqueue((this, Stopwatch.GetTimestamp()));
    }

    private static async Task Until(Func<bool> condition, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < within, "the condition did not hold in time");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task ADeadlineExpiresOnceAndNotBeforeItIsDue()
    {
        using var wheel = new DeadlineWheel(TimeSpan.FromMilliseconds(5), 16);
        var expired = new ConcurrentQueue<(Probe, long)>();
        var deadlines = Enumerable.Range(0, 20).Select(_ => new Probe(expired)).ToList();
        long scheduledAt = Stopwatch.GetTimestamp();
        for (int i = 0; i < deadlines.Count; i++) wheel.Schedule(deadlines[i], TimeSpan.FromMilliseconds(10 * i));
        await Until(() => expired.Count == deadlines.Count, TimeSpan.FromSeconds(10));
        await Task.Delay(50);
        Assert.Equal(deadlines.Count, expired.Count); // each exactly once
        Assert.Equal(deadlines.ToHashSet(), expired.Select(e => e.Item1).ToHashSet());
        foreach (var (probe, at) in expired)
            Assert.True(Stopwatch.GetElapsedTime(scheduledAt, at) >= TimeSpan.FromMilliseconds(10 * deadlines.IndexOf(probe)), $"deadline {deadlines.IndexOf(probe)} expired early");
        Assert.Equal(0, wheel.Count);
    }

    [Fact]
    public async Task ADeadlineScheduledAnywhereInATickStillWaitsItsWholeDelay()
    {
        // Scheduled at every phase of the wheel's 10 ms tick, a one-tick delay must not expire as the tick ends.
        using var wheel = new DeadlineWheel(TimeSpan.FromMilliseconds(10), 64);
        var expired = new ConcurrentQueue<(Probe, long)>();
        var scheduled = new List<(Probe Probe, long At)>();
        for (int i = 0; i < 40; i++)
        {
            var d = new Probe(expired);
            scheduled.Add((d, Stopwatch.GetTimestamp()));
            wheel.Schedule(d, TimeSpan.FromMilliseconds(10));
            Thread.Sleep(1 + i % 7);
        }
        await Until(() => expired.Count == scheduled.Count, TimeSpan.FromSeconds(10));
        var at = expired.ToDictionary(e => e.Item1, e => e.Item2);
        foreach (var (probe, scheduledAt) in scheduled)
            Assert.True(Stopwatch.GetElapsedTime(scheduledAt, at[probe]) >= TimeSpan.FromMilliseconds(10), "a deadline expired before its delay");
    }

    [Fact]
    public async Task ADeadlineManyTurnsAwayWaitsForItsOwnTurn()
    {
        // A wheel of 4 slots of 2 ms turns every 8 ms: a deadline 60 ms away passes its slot seven times first.
        using var wheel = new DeadlineWheel(TimeSpan.FromMilliseconds(2), 4);
        var expired = new ConcurrentQueue<(Probe, long)>();
        var far = new Probe(expired);
        var near = new Probe(expired);
        long scheduledAt = Stopwatch.GetTimestamp();
        wheel.Schedule(far, TimeSpan.FromMilliseconds(60));
        wheel.Schedule(near, TimeSpan.FromMilliseconds(4));
        await Until(() => expired.Count == 2, TimeSpan.FromSeconds(10));
        var order = expired.ToList();
        Assert.Same(near, order[0].Item1);
        Assert.Same(far, order[1].Item1);
        Assert.True(Stopwatch.GetElapsedTime(scheduledAt, order[1].Item2) >= TimeSpan.FromMilliseconds(60));
    }

    [Fact]
    public async Task ACancelledDeadlineNeverExpires_AndCancelSaysWhetherItWasPending()
    {
        using var wheel = new DeadlineWheel(TimeSpan.FromMilliseconds(2), 8);
        var expired = new ConcurrentQueue<(Probe, long)>();
        var cancelled = Enumerable.Range(0, 100).Select(_ => new Probe(expired)).ToList();
        var kept = new Probe(expired);
        foreach (var d in cancelled) wheel.Schedule(d, TimeSpan.FromMilliseconds(20));
        wheel.Schedule(kept, TimeSpan.FromMilliseconds(40));
        Assert.Equal(101, wheel.Count);
        Assert.All(cancelled, d => Assert.True(wheel.Cancel(d)));
        Assert.All(cancelled, d => Assert.False(wheel.Cancel(d))); // once
        await Until(() => !expired.IsEmpty, TimeSpan.FromSeconds(10));
        await Task.Delay(30);
        Assert.Equal([kept], expired.Select(e => e.Item1));
        Assert.False(wheel.Cancel(kept)); // expired: no longer pending
        Assert.Equal(0, wheel.Count);
    }

    [Fact]
    public async Task OnTheProcesssWheels_EachDeadlineIsCancelledOnTheWheelItWasScheduledOn()
    {
        // The shared wheels pick a wheel per deadline: cancelling must find it there, whichever thread cancels.
        var expired = new ConcurrentQueue<(Probe, long)>();
        var deadlines = Enumerable.Range(0, 200).Select(_ => new Probe(expired)).ToList();
        await Task.WhenAll(deadlines.Select(d => Task.Run(() => DeadlineWheels.Shared.Schedule(d, TimeSpan.FromMilliseconds(30)))));
        var cancelled = deadlines.Where((_, i) => i % 2 == 0).ToList();
        var cancels = await Task.WhenAll(cancelled.Select(d => Task.Run(() => DeadlineWheels.Shared.Cancel(d))));
        Assert.All(cancels, Assert.True);
        await Until(() => expired.Count == deadlines.Count - cancelled.Count, TimeSpan.FromSeconds(10));
        await Task.Delay(50);
        Assert.Equal(deadlines.Except(cancelled).ToHashSet(), expired.Select(e => e.Item1).ToHashSet());
    }

    [Fact]
    public async Task AnExpiredDeadlineCanBeScheduledAgain_AScheduledOneCannot()
    {
        using var wheel = new DeadlineWheel(TimeSpan.FromMilliseconds(2), 8);
        var expired = new ConcurrentQueue<(Probe, long)>();
        var d = new Probe(expired);
        wheel.Schedule(d, TimeSpan.Zero);
        Assert.Throws<InvalidOperationException>(() => wheel.Schedule(d, TimeSpan.FromMilliseconds(1)));
        await Until(() => expired.Count == 1, TimeSpan.FromSeconds(10));
        wheel.Schedule(d, TimeSpan.FromMilliseconds(1));
        await Until(() => expired.Count == 2, TimeSpan.FromSeconds(10));
    }
}
