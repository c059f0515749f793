using Akka.Hosting;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Supervision;
using BufferActors.Native.Linux;
using Microsoft.Extensions.DependencyInjection;

namespace BufferActors.Actors.Hosting;

/// <summary>Registry key of the root <see cref="BufferManagerActor"/>.</summary>
public sealed class BufferManagerKey;

/// <summary>Adds BufferActors to a Microsoft.Extensions host through Akka.Hosting.</summary>
public static class BufferActorsHostingExtensions
{
    /// <summary>
    /// Registers the grant device (<see cref="BufferActorsOptions.DeviceFactory"/>, or the Linux gntdev at
    /// <see cref="BufferActorsOptions.DevicePath"/>), the <see cref="DeviceSession"/>, an actor system running
    /// the root manager, and a <see cref="BufferActorsClient"/> singleton for hosts to inject.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="options">Settings; defaults when null.</param>
    /// <param name="configure">Further Akka.Hosting configuration of the actor system (logging, persistence...).</param>
    /// <param name="systemName">Name of the actor system.</param>
    public static IServiceCollection AddBufferActors(this IServiceCollection services, BufferActorsOptions? options = null,
        Action<AkkaConfigurationBuilder>? configure = null, string systemName = "bufferactors")
    {
        options ??= new BufferActorsOptions();
        services.AddSingleton(options);
        services.AddSingleton<IGrantDevice>(sp => options.DeviceFactory?.Invoke(sp) ?? LinuxGrantDevice.Open(options.DevicePath));
        services.AddSingleton(sp => new DeviceSession(sp.GetRequiredService<IGrantDevice>()));
        services.AddSingleton(sp => new Diagnostics.BufferActorsMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddAkka(systemName, (builder, sp) =>
        {
            // The journal is proven writable before the device is opened: a host never starts half-way.
            options.Journal?.Prepare();
            configure?.Invoke(builder);
            builder.WithBufferActors(sp.GetRequiredService<DeviceSession>(), options, journalPrepared: true, sp.GetRequiredService<Diagnostics.BufferActorsMetrics>());
        });
        services.AddSingleton(sp => new BufferActorsClient(sp.GetRequiredService<ActorSystem>(),
            sp.GetRequiredService<IRequiredActor<BufferManagerKey>>().GetAsync().GetAwaiter().GetResult(), options.RequestTimeout));
        return services;
    }

    /// <summary>Starts the root manager on an Akka.Hosting builder and registers it under <see cref="BufferManagerKey"/>.</summary>
    /// <exception cref="JournalUnavailableException">The configured journal cannot be created or written.</exception>
    public static AkkaConfigurationBuilder WithBufferActors(this AkkaConfigurationBuilder builder, DeviceSession session, BufferActorsOptions options) =>
        builder.WithBufferActors(session, options, journalPrepared: false);

    private static AkkaConfigurationBuilder WithBufferActors(this AkkaConfigurationBuilder builder, DeviceSession session, BufferActorsOptions options, bool journalPrepared,
        Diagnostics.BufferActorsMetrics? metrics = null)
    {
        if (options.Journal is { } journal)
        {
            if (!journalPrepared) journal.Prepare();
            builder.AddHocon(journal.ToConfig(), HoconAddMode.Prepend);
            if (options.JournalTimeout > JournalStorage.DefaultRecoveryStepTimeout)
                builder.AddHocon(journal.RecoveryStepTimeoutConfig(options.JournalTimeout), HoconAddMode.Prepend);
        }
        if (options.InlineDispatch) builder.AddHocon(InlineDispatchConfig("buffers"), HoconAddMode.Prepend);
        return builder.WithActors((system, registry) =>
        {
            var journalActor = options.Journal is null ? null : system.ActorOf(LifecycleJournal.SupervisedProps(options.JournalSettings with { Metrics = metrics }), "journal");
            var services = new LifecycleServices(session, journalActor, TimeProvider.System, options.JournalTimeout) { Metrics = metrics };
            registry.Register<BufferManagerKey>(system.ActorOf(
                BufferManager.Props(services, new BufferManager.Settings(options.Quotas, options.Export)), "buffers"));
        });
    }

    /// <summary>
    /// HOCON that runs the manager (named <paramref name="managerName"/> under /user), the domain supervisors
    /// and the lifecycles on the <see cref="Dispatch.InlineDispatcher"/> (see <see cref="BufferActorsOptions.InlineDispatch"/>).
    /// </summary>
    public static Akka.Configuration.Config InlineDispatchConfig(string managerName) =>
        Akka.Configuration.ConfigurationFactory.ParseString($$"""
            akka.actor.deployment {
              "/{{managerName}}" { dispatcher = {{Dispatch.InlineDispatcher.DispatcherId}} }
              "/{{managerName}}/*" { dispatcher = {{Dispatch.InlineDispatcher.DispatcherId}} }
              "/{{managerName}}/*/*" { dispatcher = {{Dispatch.InlineDispatcher.DispatcherId}} }
            }
            """).WithFallback(Dispatch.InlineDispatcher.Config);
}
