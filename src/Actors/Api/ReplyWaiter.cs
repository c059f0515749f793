using BufferActors.Actors.Dispatch;

namespace BufferActors.Actors.Api;

/// <summary>
/// A caller waiting for a <see cref="ReplyPromise"/>'s answer: completes its task with the answer, its time-out or its
/// cancellation, whichever comes first, and takes the others back. The time-out is a <see cref="Deadline"/> on the
/// shared wheel rather than a .NET timer: a pending <c>WaitReleased</c> waits for minutes, and with 100,000 of them a
/// timer and <c>Task.WaitAsync</c>'s promise each would be a third of what a waiting lifecycle costs.
/// </summary>
internal abstract class ReplyWaiter : Deadline
{
    /// <summary>Put in the promise by its answer, so that a waiter coming later reads the answer instead.</summary>
    public static readonly ReplyWaiter Answered = new AnsweredMark();

    /// <summary>Completes the task with <paramref name="reply"/> unless it completed already.</summary>
    public abstract void Complete(object reply);

    private sealed class AnsweredMark : ReplyWaiter
    {
        public override void Complete(object reply)
        {
        }

        protected internal override void Expire()
        {
        }
    }
}

/// <summary>A <see cref="ReplyWaiter"/> whose task completes with <typeparamref name="TReply"/> turned into <typeparamref name="TResult"/>.</summary>
internal sealed class ReplyWaiter<TReply, TResult> : ReplyWaiter
{
    // Continuations never run on the answering actor's thread.
    private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<TReply, TResult> _project;
    private readonly Type _request;
    private readonly TimeSpan _limit;
    private CancellationTokenRegistration _cancellation;

    private ReplyWaiter(Func<TReply, TResult> project, Type request, TimeSpan limit) => (_project, _request, _limit) = (project, request, limit);

    /// <summary>
    /// Waits for <paramref name="promise"/>'s answer to a request of type <paramref name="request"/> for at most
    /// <paramref name="limit"/> (<see cref="Timeout.InfiniteTimeSpan"/>: no limit) or until <paramref name="ct"/> is cancelled.
    /// </summary>
    public static Task<TResult> Start(ReplyPromise promise, Func<TReply, TResult> project, Type request, TimeSpan limit, CancellationToken ct)
    {
        var waiter = new ReplyWaiter<TReply, TResult>(project, request, limit);
        if (limit != Timeout.InfiniteTimeSpan) DeadlineWheels.Shared.Schedule(waiter, limit);
        if (ct.CanBeCanceled) waiter._cancellation = ct.UnsafeRegister(static (w, token) => ((ReplyWaiter<TReply, TResult>)w!).Cancelled(token), waiter);
        promise.AnswerTo(waiter);
        if (waiter._completion.Task.IsCompleted) waiter.TakeBack(); // completed while it was being set up
        return waiter._completion.Task;
    }

    /// <summary>The answer as the caller's result; a refusal as <see cref="BufferActorsException"/>.</summary>
    public static TResult Unwrap(object reply, Type request, Func<TReply, TResult> project) => reply switch
    {
        TReply ok => project(ok),
        OperationFailed failed => throw new BufferActorsException(failed),
        _ => throw new InvalidOperationException($"unexpected reply {reply.GetType().Name} to {request.Name}"),
    };

    /// <inheritdoc />
    public override void Complete(object reply)
    {
        TResult result;
        try
        {
            result = Unwrap(reply, _request, _project);
        }
        catch (Exception e)
        {
            if (_completion.TrySetException(e)) TakeBack();
            return;
        }
        if (_completion.TrySetResult(result)) TakeBack();
    }

    /// <inheritdoc />
    protected internal override void Expire()
    {
        if (_completion.TrySetException(new TimeoutException($"{_request.Name}: no answer within {_limit}"))) TakeBack();
    }

    private void Cancelled(CancellationToken token)
    {
        if (_completion.TrySetCanceled(token)) TakeBack();
    }

    /// <summary>The task completed: the deadline and the cancellation callback are no longer needed.</summary>
    private void TakeBack()
    {
        DeadlineWheels.Shared.Cancel(this);
        _cancellation.Unregister();
    }
}
