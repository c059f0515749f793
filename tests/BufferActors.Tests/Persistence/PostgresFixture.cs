using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace BufferActors.Tests.Persistence;

/// <summary>Tests that take <see cref="PostgresFixture"/> share one server (and start it at most once).</summary>
[CollectionDefinition(PostgresFixture.Collection)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>;

/// <summary>
/// A real PostgreSQL server for the persistence tests, found or started the first time a test asks for
/// a database (SQLite-only tests never touch it):
/// <list type="number">
/// <item>the server named by <c>BUFFERACTORS_POSTGRES</c> (an Npgsql connection string of a role that may
/// <c>CREATE DATABASE</c>; <c>.ci/run</c> sets it up and exports it);</item>
/// <item>else a throwaway server of its own when the PostgreSQL binaries are installed
/// (<c>/usr/lib/postgresql/*/bin</c>): <c>initdb</c> into a temporary folder — as the <c>postgres</c> user when
/// the tests run as root — and <c>pg_ctl start</c> on a free port of 127.0.0.1, stopped and deleted on dispose;</item>
/// <item>else every PostgreSQL test fails with a message saying how to get a server.</item>
/// </list>
/// Each test gets its own database (<see cref="CreateDatabaseAsync"/>), dropped when it ends.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    /// <summary>The xunit collection of tests that use this fixture.</summary>
    public const string Collection = "postgres";

    /// <summary>The environment variable naming an existing server.</summary>
    public const string Variable = "BUFFERACTORS_POSTGRES";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _adminConnectionString;
    private string? _unavailable;
    private ThrowawayServer? _server;

    /// <summary>Where the server came from (for test output).</summary>
    public string Source { get; private set; } = "not started";

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        _gate.Dispose();
    }

    /// <summary>
    /// Creates an empty database <c>ba_&lt;guid&gt;</c> owned by the fixture's role; dropping it (with every
    /// connection still open to it) is the returned object's dispose.
    /// </summary>
    public async Task<PostgresDatabase> CreateDatabaseAsync()
    {
        Needs.Postgres(); // skipped (or failed, in CI) where no server can be had, before anything is tried
        string admin = await AdminConnectionStringAsync();
        string name = $"ba_{Guid.NewGuid():N}";
        await ExecuteAsync(admin, $"CREATE DATABASE \"{name}\"");
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name };
        return new PostgresDatabase(name, builder.ConnectionString, admin);
    }

    /// <summary>The connection string of the server's administrative database, resolved once.</summary>
    public async Task<string> AdminConnectionStringAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_adminConnectionString is not null) return _adminConnectionString;
            if (_unavailable is not null) throw new PostgresUnavailableException(_unavailable);
            try
            {
                (_adminConnectionString, Source) = await ResolveAsync();
                return _adminConnectionString;
            }
            catch (PostgresUnavailableException e)
            {
                _unavailable = e.Message;
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<(string ConnectionString, string Source)> ResolveAsync()
    {
        string? configured = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            try
            {
                await ExecuteAsync(configured, "SELECT 1");
            }
            catch (Exception e)
            {
                throw new PostgresUnavailableException(
                    $"{Variable} is set but PostgreSQL does not answer on it: {e.Message}. " +
                    $"It must be an Npgsql connection string of a role that may CREATE DATABASE, e.g. " +
                    $"'Host=127.0.0.1;Port=5432;Username=bufferactors;Password=...;Database=postgres'.");
            }
            return (configured, $"{Variable}");
        }

        var binaries = ThrowawayServer.FindBinaries();
        if (binaries is null)
            throw new PostgresUnavailableException(
                $"the PostgreSQL tests need a server and found none: {Variable} is not set and no PostgreSQL " +
                $"binaries were found (/usr/lib/postgresql/*/bin/initdb). Either set {Variable} to an Npgsql " +
                $"connection string of a role that may CREATE DATABASE (e.g. 'Host=127.0.0.1;Port=5432;" +
                $"Username=bufferactors;Password=...;Database=postgres'), or install PostgreSQL " +
                $"(apt-get install postgresql) so the tests start a throwaway server; .ci/run installs it, starts it and exports {Variable}.");
        try
        {
            _server = await ThrowawayServer.StartAsync(binaries);
            return (_server.AdminConnectionString, $"throwaway server {binaries} on port {_server.Port}");
        }
        catch (Exception e)
        {
            throw new PostgresUnavailableException(
                $"{Variable} is not set and starting a throwaway PostgreSQL server from {binaries} failed: {e.Message} " +
                $"Set {Variable} to an Npgsql connection string of a role that may CREATE DATABASE (.ci/run sets one up).");
        }
    }

    internal static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>initdb + pg_ctl in a temporary folder, owned by <c>postgres</c> when running as root.</summary>
    private sealed class ThrowawayServer : IAsyncDisposable
    {
        private readonly string _bin;
        private readonly string _folder;
        private readonly string? _runAs;
        private bool _stopped;

        private ThrowawayServer(string bin, string folder, string? runAs, int port)
        {
            _bin = bin;
            _folder = folder;
            _runAs = runAs;
            Port = port;
        }

        public int Port { get; }

        private string DataFolder => Path.Combine(_folder, "data");

        public string AdminConnectionString =>
            $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false;Timeout=30";

        /// <summary>The newest installed version's bin folder with initdb and pg_ctl, or null.</summary>
        public static string? FindBinaries()
        {
            const string root = "/usr/lib/postgresql";
            if (!Directory.Exists(root)) return null;
            return Directory.GetDirectories(root)
                .Where(d => File.Exists(Path.Combine(d, "bin", "initdb")) && File.Exists(Path.Combine(d, "bin", "pg_ctl")))
                .OrderByDescending(d => Version.TryParse(Path.GetFileName(d) + (Path.GetFileName(d).Contains('.') ? "" : ".0"), out var v) ? v : new Version(0, 0))
                .Select(d => Path.Combine(d, "bin"))
                .FirstOrDefault();
        }

        public static async Task<ThrowawayServer> StartAsync(string bin)
        {
            // initdb refuses to run as root: run the server as 'postgres' (the package creates it).
            string? runAs = Environment.UserName == "root" ? "postgres" : null;
            var folder = Directory.CreateTempSubdirectory("bufferactors-pg-").FullName;
            ThrowawayServer? server = null;
            try
            {
                if (runAs is not null) await RunAsync("chown", [runAs, folder], null);
                await RunAsync(Path.Combine(bin, "initdb"), ["-D", Path.Combine(folder, "data"), "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--locale=C", "--no-sync"], runAs);
                // A free port can be taken between the probe and the start: try a few.
                for (int attempt = 1; ; attempt++)
                {
                    server = new ThrowawayServer(bin, folder, runAs, FreePort());
                    try
                    {
                        await RunAsync(Path.Combine(bin, "pg_ctl"), ["-D", server.DataFolder, "-l", Path.Combine(folder, "server.log"),
                            "-w", "-t", "60", "-o", $"-p {server.Port} -k {folder} -c listen_addresses=127.0.0.1 -F", "start"], runAs);
                        break;
                    }
                    catch (Exception) when (attempt < 3)
                    {
                    }
                }
                await ExecuteAsync(server.AdminConnectionString, "SELECT 1");
                AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Stop();
                return server;
            }
            catch (Exception e)
            {
                string log = Path.Combine(folder, "server.log");
                string tail = File.Exists(log) ? string.Join(" | ", File.ReadLines(log).TakeLast(5)) : "";
                server?.Stop();
                TryDelete(folder);
                throw new InvalidOperationException(tail.Length > 0 ? $"{e.Message} (server log: {tail})" : e.Message, e);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Task.Run(Stop);
            TryDelete(_folder);
        }

        private void Stop()
        {
            if (_stopped || !Directory.Exists(DataFolder)) return;
            _stopped = true;
            try
            {
                RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataFolder, "-m", "immediate", "-w", "stop"], _runAs).GetAwaiter().GetResult();
            }
            catch (Exception)
            {
                // Already stopped.
            }
        }

        private static void TryDelete(string folder)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        private static async Task RunAsync(string program, string[] args, string? runAs)
        {
            var start = new ProcessStartInfo
            {
                FileName = runAs is null ? program : "runuser",
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = "/",
            };
            if (runAs is not null)
                foreach (var a in new[] { "-u", runAs, "--", program }) start.ArgumentList.Add(a);
            foreach (var a in args) start.ArgumentList.Add(a);
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"{Path.GetFileName(program)} did not finish within 90 s");
            }
            if (process.ExitCode != 0)
                throw new InvalidOperationException(
                    $"{(runAs is null ? "" : $"runuser -u {runAs} -- ")}{Path.GetFileName(program)} {string.Join(' ', args)} exited {process.ExitCode}: {(await stderr).Trim()} {(await stdout).Trim()}".Trim());
        }
    }
}

/// <summary>One test's database; disposing drops it, closing whatever is still connected.</summary>
public sealed class PostgresDatabase(string name, string connectionString, string adminConnectionString) : IAsyncDisposable
{
    /// <summary>The database's name.</summary>
    public string Name { get; } = name;

    /// <summary>Npgsql connection string of the database.</summary>
    public string ConnectionString { get; } = connectionString;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // Pooled connections of the terminated actor systems still point at it.
        using (var connection = new NpgsqlConnection(ConnectionString)) NpgsqlConnection.ClearPool(connection);
        try
        {
            await PostgresFixture.ExecuteAsync(adminConnectionString, $"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)");
        }
        catch (NpgsqlException e)
        {
            // Cleanup only: the test's own outcome stands; a leftover ba_* database is harmless.
            Console.Error.WriteLine($"could not drop test database {Name}: {e.Message}");
        }
    }
}

/// <summary>No PostgreSQL server could be found or started; the message says how to provide one.</summary>
public sealed class PostgresUnavailableException(string message) : Exception(message);
