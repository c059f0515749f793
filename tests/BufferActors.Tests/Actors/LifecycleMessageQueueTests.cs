using Akka.Actor;
using Akka.Dispatch;
using BufferActors.Actors.Lifecycles;

namespace BufferActors.Tests.Actors;

/// <summary>The lifecycles' message queue: first in, first out, with the stash's messages put back in front.</summary>
public sealed class LifecycleMessageQueueTests
{
    private static Envelope E(int n) => new(n, ActorRefs.NoSender);

    private static List<int> Drain(LifecycleMessageQueue queue)
    {
        var taken = new List<int>();
        while (queue.TryDequeue(out var e)) taken.Add((int)e.Message);
        return taken;
    }

    [Fact]
    public void MessagesComeOutInTheOrderTheyWentIn_HoweverEnqueuesAndDequeuesInterleave()
    {
        var queue = new LifecycleMessageQueue();
        var rng = new Random(7);
        var expected = new Queue<int>();
        var taken = new List<int>();
        int next = 0;
        for (int step = 0; step < 5_000; step++)
        {
            if (rng.Next(3) > 0)
            {
                queue.Enqueue(ActorRefs.Nobody, E(next));
                expected.Enqueue(next++);
            }
            else if (queue.TryDequeue(out var e)) taken.Add((int)e.Message);
            Assert.Equal(expected.Count - taken.Count, queue.Count);
        }
        taken.AddRange(Drain(queue));
        Assert.Equal(expected, taken);
        Assert.False(queue.HasMessages);
    }

    [Fact]
    public void UnstashedMessagesGoBeforeEverythingWaiting_InTheOrderTheStashKeptThem()
    {
        var queue = new LifecycleMessageQueue();
        queue.Enqueue(ActorRefs.Nobody, E(10));
        queue.Enqueue(ActorRefs.Nobody, E(11));
        // The stash puts its messages back last first.
        queue.EnqueueFirst(E(2));
        queue.EnqueueFirst(E(1));
        Assert.Equal(4, queue.Count);
        Assert.Equal([1, 2, 10, 11], Drain(queue));
        Assert.False(queue.TryDequeue(out _));
        Assert.Equal(0, queue.Count);
    }
}
