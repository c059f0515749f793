using Spectre.Console;

namespace BufferActors.Host.Simulate;

/// <summary>
/// The progress bar of <c>simulate</c>: shown only when the output is this process's own terminal (not
/// redirected, not JSON, not a test's writer), and cleared when done so the summary stands alone.
/// </summary>
internal static class SimulationProgress
{
    /// <summary>Runs <paramref name="work"/>, which reports how far it got out of <paramref name="total"/>, with a bar when it can be shown.</summary>
    public static async Task<T> RunAsync<T>(TextWriter output, bool json, string label, int total, Func<Action<int>, Task<T>> work)
    {
        bool show = !json && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (!show) return await work(_ => { }).ConfigureAwait(false);
        T result = default!;
        await AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(label), maxValue: Math.Max(1, total));
                result = await work(done => task.Value = done).ConfigureAwait(false);
                task.Value = task.MaxValue;
            }).ConfigureAwait(false);
        return result;
    }
}
