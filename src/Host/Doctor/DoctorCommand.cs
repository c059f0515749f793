using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using BufferActors.Actors.Diagnostics;
using BufferActors.Native.Linux;
using Spectre.Console;

namespace BufferActors.Host.Doctor;

/// <summary>
/// <c>bufferactors doctor [--device linux|simulator] [--device-path P] [--journal FILE] [--json]</c>: what this machine
/// can do, each check with its evidence (docs/operations.md). A table by default, one JSON object with <c>--json</c>
/// (the findings and the machine's raw answers). Exit 0 only when the mode asked about can run.
/// </summary>
internal static class DoctorCommand
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static Command Create()
    {
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "linux", Description = "The mode to check: linux (/dev/xen/gntdev, the default) or simulator." };
        device.AcceptOnlyFromAmong("linux", "simulator");
        var devicePath = new Option<string>("--device-path") { DefaultValueFactory = _ => LinuxGrantDevice.DefaultPath, Description = "The gntdev node." };
        var journal = new Option<string?>("--journal") { Description = "A journal file the mode would write: its folder must take a new file." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: the findings and the machine's raw answers." };
        var command = new Command("doctor", "Check what this machine can do: Xen, the grant device and its dma-buf support, limits, the journal's folder.")
        {
            device, devicePath, journal, json,
        };
        command.SetAction(r =>
        {
            var answers = MachineProbe.Probe(r.GetValue(devicePath)!, r.GetValue(journal));
            var report = DoctorReport.Evaluate(answers, r.GetValue(device)!);
            if (r.GetValue(json)) Console.Out.WriteLine(JsonSerializer.Serialize(new { report.Device, report.CanRun, report.Findings, Answers = answers }, Json));
            else Print(report);
            return report.CanRun ? 0 : 1;
        });
        return command;
    }

    private static void Print(DoctorReport report)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        var table = new Table().AddColumn("check").AddColumn("result").AddColumn("evidence");
        foreach (var f in report.Findings)
        {
            string result = f.Outcome switch
            {
                DoctorReport.Outcome.Ok => "[green]ok[/]",
                DoctorReport.Outcome.Info => "[grey]info[/]",
                DoctorReport.Outcome.Warning => "[yellow]warning[/]",
                _ => "[red]FAILED[/]",
            };
            table.AddRow(Markup.Escape(f.Check), result, Markup.Escape(f.Evidence));
        }
        console.Write(table);
        foreach (var f in report.Findings.Where(f => f.Hint is not null)) console.MarkupLine($"  {Markup.Escape(f.Check)}: {Markup.Escape(f.Hint!)}");
        console.MarkupLine(report.CanRun
            ? $"[green]--device {report.Device} can run here.[/]"
            : $"[red]--device {report.Device} cannot run here.[/]");
    }
}
