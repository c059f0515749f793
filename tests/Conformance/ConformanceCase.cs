namespace BufferActors.Conformance;

/// <summary>A named, self-contained scenario; its result is what it observed.</summary>
/// <param name="Name">Stable name (kebab-case): the key results are compared by.</param>
/// <param name="Summary">What the case shows, in one line.</param>
/// <param name="Run">The scenario; it records every observation on the context.</param>
public sealed record ConformanceCase(string Name, string Summary, Action<CaseContext> Run);

/// <summary>One case's result on one target.</summary>
/// <param name="Case">The case name.</param>
/// <param name="Device">"kernel" or "simulator".</param>
/// <param name="Observations">What the case saw, in order: "step: outcome" lines. Two targets agree when these are equal.</param>
/// <param name="Error">An exception the case did not expect (the case then failed on this target), or null.</param>
/// <param name="Info">Measured values that may differ between targets and are not compared (sizes of tables, timings).</param>
/// <param name="Milliseconds">Wall time of the case.</param>
public sealed record CaseResult(string Case, string Device, IReadOnlyList<string> Observations, string? Error,
    IReadOnlyDictionary<string, string> Info, long Milliseconds);
