using System.CommandLine;
using BufferActors.Actors.Persistence;
using BufferActors.Host;
using BufferActors.Host.Commands;

var root = new RootCommand("BufferActors: actor-managed lifecycles of Xen gntdev dma-bufs (export, wait, import) on Linux or on the simulator.");
foreach (var command in DemoCommand.Create()) root.Subcommands.Add(command);
root.Subcommands.Add(SimulatorCommands.Create());
root.Subcommands.Add(BufferActors.Host.Simulate.SimulateCommand.Create());
root.Subcommands.Add(ReplayCommand.Create());
root.Subcommands.Add(BufferActors.Host.Daemon.ServeCommand.Create());
root.Subcommands.Add(BufferActors.Host.Daemon.StatusCommand.Create());
root.Subcommands.Add(BufferActors.Host.Daemon.ReleaseDomainCommand.Create());
root.Subcommands.Add(BufferActors.Host.Doctor.DoctorCommand.Create());
// A journal that cannot be used is the operator's to fix: one line naming the path and the reason, exit 2,
// instead of a stack trace. Any other exception is printed whole, exit 1.
try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (JournalUnavailable(e) is { } unusable)
{
    Console.Error.WriteLine($"bufferactors: {unusable.Message}");
    return 2;
}
catch (Exception e)
{
    Console.Error.WriteLine($"bufferactors: unhandled exception: {e}");
    return 1;
}

static JournalUnavailableException? JournalUnavailable(Exception e) => e switch
{
    JournalUnavailableException j => j,
    AggregateException a => a.InnerExceptions.Select(JournalUnavailable).FirstOrDefault(j => j is not null),
    { InnerException: { } inner } => JournalUnavailable(inner),
    _ => null,
};
