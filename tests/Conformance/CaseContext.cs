using BufferActors.Native;

namespace BufferActors.Conformance;

/// <summary>
/// What a case runs with: the target, and a record of observations. Every step's outcome is a value —
/// "ok", an errno name, a result — never an exception that ends the case, so a case observes the same
/// steps on both targets and the lists can be compared line by line.
/// </summary>
public sealed class CaseContext(ConformanceTarget target)
{
    private readonly List<string> _observations = [];
    private readonly Dictionary<string, string> _info = [];
    private readonly List<Action> _cleanup = [];

    /// <summary>The target.</summary>
    public ConformanceTarget Target { get; } = target;

    /// <summary>The observations so far.</summary>
    public IReadOnlyList<string> Observations => _observations;

    /// <summary>Values reported but not compared.</summary>
    public IReadOnlyDictionary<string, string> Info => _info;

    /// <summary>Records an observation.</summary>
    public void See(string step, object? value) => _observations.Add($"{step}: {Format(value)}");

    /// <summary>Records a measured value that is not compared.</summary>
    public void Measure(string name, object value) => _info[name] = Format(value);

    /// <summary>Runs a step and records "ok" or its errno.</summary>
    public bool Try(string step, Action action)
    {
        try
        {
            action();
            See(step, "ok");
            return true;
        }
        catch (GntdevException e)
        {
            See(step, e.Errno);
            return false;
        }
    }

    /// <summary>Runs a step and records "ok" (the value is returned, not recorded) or its errno (default is returned).</summary>
    public T? Try<T>(string step, Func<T> action)
    {
        try
        {
            T value = action();
            See(step, "ok");
            return value;
        }
        catch (GntdevException e)
        {
            See(step, e.Errno);
            return default;
        }
    }

    /// <summary>Runs a step and records its value, or its errno.</summary>
    public void Observe<T>(string step, Func<T> action)
    {
        try
        {
            See(step, action());
        }
        catch (GntdevException e)
        {
            See(step, e.Errno);
        }
    }

    /// <summary>Runs <paramref name="action"/> when the case ends, last registered first, whatever happened.</summary>
    public void Defer(Action action) => _cleanup.Add(action);

    /// <summary>A grant device instance, closed when the case ends.</summary>
    public IGrantDevice Gntdev()
    {
        var device = Target.OpenGntdev();
        Defer(device.Dispose);
        return device;
    }

    /// <summary>A grant allocator instance, closed when the case ends (which deallocates what is left).</summary>
    public IGrantAllocator Allocator()
    {
        var allocator = Target.OpenAllocator();
        Defer(allocator.Dispose);
        return allocator;
    }

    /// <summary>A host dma-buf filled with <paramref name="pattern"/>, freed when the case ends.</summary>
    public HostBuffer HostBuffer(int pages, byte pattern)
    {
        var buffer = Target.CreateHostBuffer(pages);
        Defer(buffer.Dispose);
        Fill(buffer.Pages, pattern);
        return buffer;
    }

    /// <summary>Pages granted to dom0 by dom0 and filled with <paramref name="pattern"/>.</summary>
    public GrantAllocation Grant(IGrantAllocator allocator, int pages, byte pattern, bool writable = true)
    {
        var allocation = allocator.Allocate(Target.Self, pages, writable);
        Fill(allocation.Pages, pattern);
        return allocation;
    }

    /// <summary>Writes a pattern that differs per page and per byte, seeded by <paramref name="pattern"/>.</summary>
    public static void Fill(PageView pages, byte pattern)
    {
        for (int p = 0; p < pages.PageCount; p++)
        {
            var page = pages.Page(p);
            for (int i = 0; i < page.Length; i++) page[i] = (byte)(pattern + p * 7 + i);
        }
    }

    /// <summary>"pattern N" when every byte follows pattern N, else where the first difference is.</summary>
    public static string Describe(PageView pages, byte pattern)
    {
        for (int p = 0; p < pages.PageCount; p++)
        {
            var page = pages.Read(p);
            for (int i = 0; i < page.Length; i++)
            {
                if (page[i] != (byte)(pattern + p * 7 + i))
                    return $"differs at page {p} byte {i} ({page[i]})";
            }
        }
        return $"pattern {pattern}";
    }

    /// <summary>Runs the cleanup actions; their failures are recorded as observations (a cleanup that fails on one target only is a difference).</summary>
    internal void RunCleanup()
    {
        for (int i = _cleanup.Count - 1; i >= 0; i--)
        {
            try
            {
                _cleanup[i]();
            }
            catch (GntdevException e)
            {
                See("cleanup", e.Errno);
            }
        }
        _cleanup.Clear();
    }

    private static string Format(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        Errno e => e.ToString(),
        IEnumerable<string> list => string.Join(",", list),
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
