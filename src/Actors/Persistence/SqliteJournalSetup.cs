using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Sql;
using Akka.Persistence.Sql.Config;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// The SQLite journal plugin's section as <see cref="SqliteBatchWriteJournal"/> reads it, parsed by the plugin's own
/// configuration classes so that names and modes mean exactly what they mean to it; everything that writes rows of
/// that journal (the plugin, <see cref="SqliteJournalAppender"/>) is made from it.
/// </summary>
internal sealed class SqliteJournalSetup
{
    private SqliteJournalSetup(JournalConfig config, JournalDurability durability) => (Config, Durability) = (config, durability);

    /// <summary>The plugin's parsed section.</summary>
    public JournalConfig Config { get; }

    /// <summary>What a commit survives.</summary>
    public JournalDurability Durability { get; }

    /// <summary>The journal section's key naming its <see cref="JournalDurability"/> (<c>process</c> or <c>power</c>).</summary>
    public const string DurabilityKey = "bufferactors-durability";

    /// <summary>Parses the journal plugin's section.</summary>
    /// <exception cref="ConfigurationException">Tags are not written in the row (Csv), the provider is not SQLite, or the durability is unknown.</exception>
    public static SqliteJournalSetup Parse(Config journalConfig)
    {
        var config = new JournalConfig(journalConfig.WithFallback(SqlPersistence.DefaultJournalConfiguration));
        if (config.PluginConfig.TagMode != TagMode.Csv)
            throw new ConfigurationException($"{nameof(SqliteBatchWriteJournal)} stores tags in the journal row: set tag-write-mode = Csv (is {config.PluginConfig.TagMode})");
        if (!config.ProviderName.Contains("sqlite", StringComparison.OrdinalIgnoreCase))
            throw new ConfigurationException($"{nameof(SqliteBatchWriteJournal)} writes SQLite only (provider-name is '{config.ProviderName}')");
        string durability = journalConfig.GetString(DurabilityKey, "process");
        if (!Enum.TryParse<JournalDurability>(durability, ignoreCase: true, out var mode))
            throw new ConfigurationException($"{DurabilityKey} is 'process' or 'power', not '{durability}'");
        return new SqliteJournalSetup(config, mode);
    }

    /// <summary>
    /// The setup of <paramref name="system"/>'s journal plugin <paramref name="pluginId"/> (empty: the default plugin)
    /// when its class is <see cref="SqliteBatchWriteJournal"/> or derives from it; null for any other plugin.
    /// </summary>
    public static SqliteJournalSetup? Of(ActorSystem system, string pluginId)
    {
        var root = system.Settings.Config;
        string path = string.IsNullOrEmpty(pluginId) ? root.GetString("akka.persistence.journal.plugin", "") : pluginId;
        if (path.Length == 0 || !root.HasPath(path)) return null;
        var section = root.GetConfig(path);
        var type = Type.GetType(section.GetString("class", ""), throwOnError: false);
        return type is not null && typeof(SqliteBatchWriteJournal).IsAssignableFrom(type) ? Parse(section) : null;
    }

    /// <summary>
    /// A writer of <paramref name="system"/>'s snapshot table when its snapshot store is the SQL plugin on the same
    /// database as this journal; null otherwise (snapshots then go through the snapshot store).
    /// </summary>
    public SqliteSnapshotWriter? NewSnapshotWriter(ActorSystem system, string snapshotPluginId)
    {
        var root = system.Settings.Config;
        string path = string.IsNullOrEmpty(snapshotPluginId) ? root.GetString("akka.persistence.snapshot-store.plugin", "") : snapshotPluginId;
        if (path.Length == 0 || !root.HasPath(path)) return null;
        var section = root.GetConfig(path);
        var type = Type.GetType(section.GetString("class", ""), throwOnError: false);
        if (type is null || !typeof(Akka.Persistence.Sql.Snapshot.SqlSnapshotStore).IsAssignableFrom(type)) return null;
        var snapshots = new SnapshotConfig(section.WithFallback(SqlPersistence.DefaultSnapshotConfiguration));
        return snapshots.ConnectionString == Config.ConnectionString ? new SqliteSnapshotWriter(snapshots.ConnectionString, snapshots.TableConfig) : null;
    }

    /// <summary>A writer of rows into the plugin's table; like the plugin's, one writer uuid per writer when the table has the column.</summary>
    public SqliteJournalWriter NewWriter()
    {
        var table = Config.TableConfig;
        return new SqliteJournalWriter(Config.ConnectionString, table, table.EventJournalTable.UseWriterUuidColumn ? Guid.NewGuid().ToString("N") : null, Durability);
    }

    /// <summary>A reader of the plugin's table, deserializing with <paramref name="system"/>'s serializers.</summary>
    public SqliteJournalReader NewReader(ExtendedActorSystem system) => NewReader(system.Serialization.Deserialize);

    /// <summary>A reader of the plugin's table, deserializing with <paramref name="deserialize"/> (bytes, serializer id, manifest).</summary>
    public SqliteJournalReader NewReader(Func<byte[], int, string, object> deserialize) => new(Config.ConnectionString, Config.TableConfig, deserialize);

    /// <summary>The encoder of rows as the plugin writes them, with <paramref name="system"/>'s serializers.</summary>
    public SqliteJournalRowEncoder NewEncoder(ExtendedActorSystem system) => new(system, Config.DefaultSerializer, Config.PluginConfig.TagSeparator);
}
