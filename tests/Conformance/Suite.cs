using System.Diagnostics;
using System.Text.Json;
using BufferActors.Conformance.Cases;
using BufferActors.Native;

namespace BufferActors.Conformance;

/// <summary>Every conformance case, and the runner that runs them on a target.</summary>
public static class Suite
{
    /// <summary>The cases, in the order they run.</summary>
    public static IReadOnlyList<ConformanceCase> Cases { get; } =
    [
        .. ExportCases.All,
        .. WaitCases.All,
        .. ImportCases.All,
        .. FdReuseCases.All,
        .. MapCases.All,
        .. CloseCases.All,
        .. LimitCases.All,
    ];

    /// <summary>The prefix of a result line on the console (the lane reads results from the guest's console).</summary>
    public const string ResultPrefix = "BA-RESULT ";

    /// <summary>JSON options of every file the suite writes.</summary>
    public static JsonSerializerOptions Json { get; } = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Runs one case on <paramref name="target"/>: its observations, then whether it left descriptors open.</summary>
    public static CaseResult Run(ConformanceCase @case, ConformanceTarget target)
    {
        var context = new CaseContext(target);
        var clock = Stopwatch.StartNew();
        int fds = target.OpenFdCount();
        string? error = null;
        try
        {
            @case.Run(context);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A case states its expectations as observations; anything else escaping it is a failure on this target.
            error = $"{e.GetType().Name}: {e.Message}";
        }
        finally
        {
            context.RunCleanup();
        }

        context.See("descriptors left open", target.OpenFdCount() - fds);
        return new CaseResult(@case.Name, target.Name, [.. context.Observations], error, context.Info, clock.ElapsedMilliseconds);
    }

    /// <summary>Runs the cases named (all when null) and writes each result as a line to <paramref name="output"/>.</summary>
    public static IReadOnlyList<CaseResult> RunAll(ConformanceTarget target, string? only, TextWriter output)
    {
        var results = new List<CaseResult>();
        var selected = Cases.Where(c => only is null || c.Name == only).ToList();
        if (selected.Count == 0) throw new ArgumentException($"no conformance case is named '{only}' (--list shows them)");
        foreach (var @case in selected)
        {
            var result = Run(@case, target);
            results.Add(result);
            output.WriteLine(ResultPrefix + JsonSerializer.Serialize(result, Json));
            output.Flush();
        }
        return results;
    }
}
