using System.Collections.Concurrent;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Supervision;

namespace BufferActors.Actors.Api;

/// <summary>
/// The embedding API: what a backend host calls. Every method sends one request to the root manager
/// and completes with its answer; a refused request throws <see cref="BufferActorsException"/> with a
/// typed <see cref="ErrorCode"/> (and the errno for device errors), having changed nothing. A request
/// unanswered within the timeout throws <see cref="TimeoutException"/>; a cancelled one,
/// <see cref="OperationCanceledException"/>.
/// </summary>
/// <remarks>
/// A command for an existing lifecycle goes straight to its domain's supervisor once the client knows it,
/// skipping the manager's hop: the supervisor that starts a lifecycle for the client tells the request so,
/// and each start refreshes what the client knows. A supervisor that is gone (the manager restarted) is
/// answered for by the dead-letter answerer: its lifecycles are gone too.
/// </remarks>
/// <param name="system">The actor system the manager runs in.</param>
/// <param name="manager">The root manager (<c>BufferManager.Props</c>).</param>
/// <param name="askTimeout">The time-out of each request (30 s when null).</param>
public sealed class BufferActorsClient(ActorSystem system, IActorRef manager, TimeSpan? askTimeout = null)
{
    // The provider every request's sender (a ReplyPromise) names: Akka's public way to it, as extensions reach it.
    private readonly IActorRefProvider _provider = ((ExtendedActorSystem)(system ?? throw new ArgumentNullException(nameof(system)))).Provider;

    /// <summary>
    /// Calls <paramref name="notice"/> with every <typeparamref name="T"/> the actors publish
    /// (<see cref="Supervision.BufferManager.AccessEnded"/>, <see cref="Supervision.DomainLifecycles.FrontendDied"/>,
    /// <see cref="Lifecycles.ExportedBuffer.QuarantineNotice"/>) until
    /// the returned subscription is disposed. It runs on an actor's thread, one notice at a time: keep it short.
    /// </summary>
    public IDisposable Subscribe<T>(Action<T> notice) => NoticeSubscription.Start(system, notice);

    /// <summary>The longest timer .NET can set (2^32-2 ms): the bound of every answer's time-out.</summary>
    public static readonly TimeSpan LongestAnswerTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private readonly TimeSpan _timeout = AskTimeout(askTimeout ?? TimeSpan.FromSeconds(30));

    /// <summary>The request time-out: positive and at most <see cref="LongestAnswerTimer"/>, or infinite.</summary>
    private static TimeSpan AskTimeout(TimeSpan timeout) =>
        timeout == Timeout.InfiniteTimeSpan || (timeout > TimeSpan.Zero && timeout <= LongestAnswerTimer) ? timeout
        : throw new ArgumentOutOfRangeException(nameof(askTimeout), timeout, "the request time-out must be positive and at most 49.7 days, or Timeout.InfiniteTimeSpan");
    private readonly ConcurrentDictionary<DomainId, IActorRef> _supervisors = new();

    /// <summary>The root manager actor.</summary>
    public IActorRef Manager { get; } = manager;

    /// <summary>The time-out of each request (<see cref="TimeoutException"/> past it).</summary>
    public TimeSpan RequestTimeout => _timeout;

    /// <summary>
    /// Starts a lifecycle of the kind <paramref name="request"/> starts (any kind the host runs); completes with the
    /// kind's answer to its start. The kinds' own methods (<c>ExportAsync</c>, <c>ImportAsync</c>, <c>MapAsync</c>) call this.
    /// </summary>
    public Task<T> StartAsync<T>(ILifecycleRequest request, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Start<T>(request.Domain, request, ct);
    }

    /// <summary>Sends <paramref name="command"/> to its lifecycle; completes with the lifecycle's answer, within the request time-out.</summary>
    public Task<T> SendAsync<T>(ILifecycleCommand command, CancellationToken ct = default) => SendAsync<T>(command, _timeout, ct);

    /// <summary>
    /// Sends <paramref name="command"/> to its lifecycle; completes with the answer, which may take
    /// <paramref name="answerWithin"/> (a command that waits on purpose, such as a wait for release;
    /// <see cref="Timeout.InfiniteTimeSpan"/> for no limit, else from zero up to <see cref="LongestAnswerTimer"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="answerWithin"/> is negative (but not infinite) or beyond <see cref="LongestAnswerTimer"/>; nothing is sent.</exception>
    public Task<T> SendAsync<T>(ILifecycleCommand command, TimeSpan answerWithin, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        return Command<T>(command, ct, AnswerLimit(answerWithin));
    }

    /// <summary>A request's own limit: zero up to <see cref="LongestAnswerTimer"/>, or infinite.</summary>
    private static TimeSpan AnswerLimit(TimeSpan answerWithin) =>
        answerWithin == Timeout.InfiniteTimeSpan || (answerWithin >= TimeSpan.Zero && answerWithin <= LongestAnswerTimer) ? answerWithin
        : throw new ArgumentOutOfRangeException(nameof(answerWithin), answerWithin, "an answer's limit is from zero up to 49.7 days, or Timeout.InfiniteTimeSpan");

    /// <summary>Tells BufferActors a frontend domain died: everything it owns is ended in dependency order.</summary>
    public Task<DomainLifecycles.DomainCleanupStarted> DomainDiedAsync(DomainId domain, CancellationToken ct = default) =>
        Ask<DomainLifecycles.DomainCleanupStarted>(new DomainLifecycles.DomainDied(domain), ct);

    /// <summary>
    /// Tells BufferActors a frontend domain was destroyed (an operator's command): what it still owns ends as for
    /// <see cref="DomainDiedAsync"/>, and its accounting is released — what stays live (exports a device still holds,
    /// lifecycles still ending) is tracked apart until it ends, no longer counted against the domain id, and a new
    /// domain given the same id starts with empty quotas instead of being refused <c>DomainDead</c>.
    /// </summary>
    public Task<DomainLifecycles.DomainReleased> ReleaseDomainAsync(DomainId domain, CancellationToken ct = default)
    {
        _supervisors.TryRemove(domain, out _); // the id's next lifecycles get a new supervisor
        return Ask<DomainLifecycles.DomainReleased>(new DomainLifecycles.ReleaseDomain(domain), ct);
    }

    /// <summary>One lifecycle's status.</summary>
    public Task<LifecycleStatus> StatusAsync(LifecycleId id, CancellationToken ct = default) =>
        Command<LifecycleStatus>(new LifecycleStatus.Get(id), ct);

    /// <summary>What the start-up recovery found on the journal: adopted, reclaimed, and the frontends to tell (empty without a journal).</summary>
    public Task<BufferManager.RecoveryReport> RecoveryReportAsync(CancellationToken ct = default) =>
        Ask<BufferManager.RecoveryReport>(new BufferManager.GetRecoveryReport(), ct);

    /// <summary>
    /// Completes once everything lifecycles owed the journal so far is durable: the ends of lifecycles stopped by a
    /// failure or their domain's death, and releases the kernel reported after a lifecycle stopped. A host calls it
    /// before it stops, or before it reads its own journal.
    /// </summary>
    public Task FlushJournalAsync(CancellationToken ct = default) =>
        Ask<JournalOutbox.Drained>(new BufferManager.FlushJournal(), ct);

    /// <summary>Every domain's lifecycles and quota use.</summary>
    public Task<BufferManager.Status> SnapshotAsync(CancellationToken ct = default) =>
        Ask<BufferManager.Status>(new BufferManager.GetStatus(), ct);

    /// <summary>Starts a lifecycle through the manager, and learns the domain's supervisor from the start.</summary>
    private async Task<T> Start<T>(DomainId domain, object request, CancellationToken ct)
    {
        var promise = Send(Manager, request);
        var reply = await Answer<T>(promise, request, ct, _timeout).ConfigureAwait(false);
        // Written only when it changes: a write takes the dictionary's lock, a read does not, and every start of every
        // frontend passes here (docs/performance.md, "Concurrency").
        if (promise.Route is { } supervisor && !(_supervisors.TryGetValue(domain, out var known) && known.Equals(supervisor))) _supervisors[domain] = supervisor;
        return reply;
    }

    /// <summary>A command for an existing lifecycle: to its domain's supervisor if known, else through the manager.</summary>
    private Task<T> Command<T>(ILifecycleCommand command, CancellationToken ct, TimeSpan? timeout = null) =>
        Answer<T>(Send(RouteOf(command), command), command, ct, timeout ?? _timeout);

    /// <summary>Where a command for an existing lifecycle goes: its domain's supervisor if known, else the manager.</summary>
    private IActorRef RouteOf(ILifecycleCommand command) => _supervisors.TryGetValue(command.Id.Domain, out var supervisor) ? supervisor : Manager;

    private Task<T> Ask<T>(object message, CancellationToken ct) => Answer<T>(Send(Manager, message), message, ct, _timeout);

    private ReplyPromise Send(IActorRef target, object message)
    {
        var promise = new ReplyPromise(_provider);
        target.Tell(message, promise);
        return promise;
    }

    /// <summary>The request's answer as <typeparamref name="T"/>; read at once when the actors already gave it (the inline dispatcher).</summary>
    private static Task<T> Answer<T>(ReplyPromise promise, object message, CancellationToken ct, TimeSpan limit) =>
        Answer(promise, message, ct, limit, Identity<T>.Instance);

    /// <summary>The request's answer, a <typeparamref name="TReply"/>, as <typeparamref name="TResult"/>.</summary>
    private static Task<TResult> Answer<TReply, TResult>(ReplyPromise promise, object message, CancellationToken ct, TimeSpan limit, Func<TReply, TResult> project)
    {
        if (!promise.TryGetReply(out var reply)) return ReplyWaiter<TReply, TResult>.Start(promise, project, message.GetType(), limit, ct);
        try
        {
            return Task.FromResult(ReplyWaiter<TReply, TResult>.Unwrap(reply, message.GetType(), project));
        }
        catch (Exception e)
        {
            return Task.FromException<TResult>(e); // as an async method would: the task fails, the call does not throw
        }
    }

    /// <summary>
    /// Sends <paramref name="command"/> to its lifecycle; completes with the answer, a <typeparamref name="TReply"/>,
    /// turned into <typeparamref name="TResult"/> by <paramref name="project"/> (no task in between).
    /// </summary>
    internal Task<TResult> SendAsync<TReply, TResult>(ILifecycleCommand command, TimeSpan answerWithin, Func<TReply, TResult> project, CancellationToken ct)
    {
        var limit = AnswerLimit(answerWithin);
        return Answer(Send(RouteOf(command), command), command, ct, limit, project);
    }

    private static class Identity<T>
    {
        public static readonly Func<T, T> Instance = static x => x;
    }
}
