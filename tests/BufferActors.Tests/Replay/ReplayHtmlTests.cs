using System.Diagnostics;
using System.Text.RegularExpressions;
using BufferActors.Host.Commands;

namespace BufferActors.Tests.Replay;

/// <summary>
/// <c>replay --html</c> on the demo's journal, opened in headless Chromium: the page's own script must draw one
/// row per lifecycle. The rows exist only in the DOM the script builds, never in the file, so this proves the
/// page works in a browser and not just that the file was written.
/// </summary>
public sealed partial class ReplayHtmlTests(DemoJournalFixture demo) : IClassFixture<DemoJournalFixture>
{
    private const string Chromium = Needs.ChromiumPath;

    [GeneratedRegex("<div[^>]*\\bdata-lifecycle=\"(?<id>[^\"]+)\"")]
    private static partial Regex LifecycleRow();

    [SkippableFact]
    public async Task TheTimelinePageShowsOneRowPerLifecycleInABrowser()
    {
        Needs.Chromium();
        string page = demo.NewPath("timeline.html");
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = await ReplayCommand.RunAsync(["--journal", demo.JournalPath, "--html", page], output, error);
        Assert.True(exit == 0, $"exit {exit}: {error}");

        string html = await File.ReadAllTextAsync(page);
        Assert.Empty(LifecycleRow().Matches(html)); // no rows in the file: only the script makes them
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal); // self-contained: nothing to fetch
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<link", html, StringComparison.Ordinal);
        Assert.DoesNotContain(" src=", html, StringComparison.Ordinal);

        string dom = DumpDom(page);

        var rows = LifecycleRow().Matches(dom).Select(m => m.Groups["id"].Value).ToList();
        Assert.Equal(["export:1:1", "export:1:2", "export:1:3", "export:2:4", "export:2:5", "export:2:6"], rows);
        Assert.Contains("d2/export-4", dom, StringComparison.Ordinal);            // row labels drawn
        Assert.Contains("span k-exported", dom, StringComparison.Ordinal);       // spans drawn on the tracks
        Assert.Contains("span k-attached", dom, StringComparison.Ordinal);
        Assert.Contains("span k-releasing", dom, StringComparison.Ordinal);
        Assert.Contains("Anomalies (0)", dom, StringComparison.Ordinal);
        Assert.Contains("6 lifecycles (0 live)", dom, StringComparison.Ordinal); // the script's summary line
    }

    /// <summary>Loads the page in headless Chromium and returns the DOM after its scripts ran.</summary>
    private static string DumpDom(string page)
    {
        string profile = Directory.CreateTempSubdirectory("ba-chromium-").FullName;
        try
        {
            var start = new ProcessStartInfo(Chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", $"--user-data-dir={profile}", "--dump-dom", new Uri(Path.GetFullPath(page)).AbsoluteUri,
            })
                start.ArgumentList.Add(arg);
            using var chromium = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Chromium}");
            var stdout = chromium.StandardOutput.ReadToEndAsync();
            var stderr = chromium.StandardError.ReadToEndAsync();
            if (!chromium.WaitForExit(TimeSpan.FromSeconds(90)))
            {
                chromium.Kill(entireProcessTree: true); // only the browser this test started
                Assert.Fail($"chromium did not finish within 90 s: {stderr.Result}");
            }
            string dom = stdout.GetAwaiter().GetResult();
            Assert.True(chromium.ExitCode == 0 && dom.Length > 0, $"chromium exit {chromium.ExitCode}: {stderr.GetAwaiter().GetResult()}");
            return dom;
        }
        finally
        {
            try
            {
                Directory.Delete(profile, recursive: true);
            }
            catch (IOException)
            {
                // A profile file still being flushed: the temp folder is left behind, nothing else depends on it.
            }
        }
    }
}
