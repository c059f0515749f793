namespace BufferActors.Benchmarks;

/// <summary>Mean and nearest-rank percentiles of a set of latencies, in microseconds.</summary>
internal readonly record struct LatencySummary(int Count, double Mean, double P50, double P90, double P99, double Max)
{
    /// <summary>Summarises <paramref name="micros"/> (at least one sample).</summary>
    public static LatencySummary Of(IReadOnlyCollection<double> micros)
    {
        var sorted = micros.Order().ToArray();
        double At(double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new LatencySummary(sorted.Length, sorted.Average(), At(0.50), At(0.90), At(0.99), sorted[^1]);
    }

    /// <inheritdoc />
    public override string ToString() => $"p50 {P50,7:F1}  p90 {P90,7:F1}  p99 {P99,7:F1}  max {Max,8:F1}  mean {Mean,7:F1} us  (n={Count:N0})";
}
