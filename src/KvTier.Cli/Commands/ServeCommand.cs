using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using KvTier.Cli.Stores;
using KvTier.Remote;
using KvTier.Remote.Protocol;
using KvTier.Storage;
using Microsoft.Extensions.Logging;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier serve</c>: a durable cache server over a store directory (format-spec/protocol.md), until SIGTERM or
/// Ctrl-C, then a graceful shutdown. Prints <c>listening on HOST:PORT</c> on standard output once it accepts
/// connections (with the port the system chose for port 0); logs go to standard error.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        var listen = new Option<string>("--listen") { Description = "Where to listen: HOST:PORT (port 0: the system picks one, printed at startup)", Required = true, HelpName = "HOST:PORT" };
        var data = new Option<string>("--data") { Description = "The store directory; created, with an empty store, when missing", Required = true, HelpName = "DIR" };
        var tokenFile = RemoteCommand.TokenFileOption();
        var tlsCert = new Option<string?>("--tls-cert") { Description = "Serve TLS with this certificate: a .pfx/.p12 file, or a PEM file with the certificate (and its key, unless --tls-key)", HelpName = "FILE" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "The PEM private key of --tls-cert, when it is in a separate file", HelpName = "FILE" };
        var grace = new Option<double>("--grace-s") { Description = "Seconds that requests in flight may take to finish at shutdown", DefaultValueFactory = _ => 10, HelpName = "SECONDS" };
        var bulkLanes = new Option<int>("--bulk-lanes")
        {
            Description = "Bulk lanes each connection may attach (format-spec/protocol.md §12): extra plain connections that carry record bodies of "
                + "1 MiB and more beside the multiplexed one; 0 keeps every body on the multiplexer. 0 to 64",
            DefaultValueFactory = _ => 4,
            HelpName = "N",
        };
        var verbose = new Option<bool>("--verbose") { Description = "Log every connection and request (debug level), not only warnings and lifecycle events" };
        Option<long> memory = StoreAccess.MemoryMiB();
        Option<double> disk = StoreAccess.DiskGiB();
        Option<int> segment = StoreAccess.SegmentMiB();
        var command = new Command("serve",
            "Share a store with other processes and machines over TCP (format-spec/protocol.md): clients prove they know the token "
            + "(the token itself never travels), optionally over TLS. Prints `listening on HOST:PORT` when ready; SIGTERM or Ctrl-C "
            + "stops it gracefully (requests in flight finish, the store is closed)")
        {
            listen, data, tokenFile, tlsCert, tlsKey, grace, bulkLanes, verbose, memory, disk, segment,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            IPEndPoint endpoint = ParseListen(parse.GetValue(listen)!);
            byte[] secret = SharedSecret.ReadTokenFile(parse.GetValue(tokenFile)!);
            using X509Certificate2? certificate = parse.GetValue(tlsCert) is { } cert ? LoadCertificate(cert, parse.GetValue(tlsKey)) : null;
            int lanes = parse.GetValue(bulkLanes);
            if (lanes is < 0 or > ProtocolLimits.MaxBulkLanes)
                throw new ArgumentException($"--bulk-lanes {lanes} must be between 0 and {ProtocolLimits.MaxBulkLanes}.");
            double graceSeconds = parse.GetValue(grace);
            if (!(graceSeconds >= 0))
                throw new ArgumentException("--grace-s must be 0 or more.");
            using ILoggerFactory logs = LoggerFactory.Create(builder => builder
                .SetMinimumLevel(parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information)
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                    o.UseUtcTimestamp = true;
                })
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
            ILogger logger = logs.CreateLogger("kvtier.serve");

            KvStore store = StoreAccess.OpenForWriting(parse.GetValue(data)!, parse.GetValue(memory), parse.GetValue(disk), parse.GetValue(segment));
            KvCacheServer server;
            try
            {
                server = KvCacheServer.Start(store, new KvCacheServerOptions
                {
                    Endpoint = endpoint, Secret = secret, Certificate = certificate, ShutdownGracePeriod = TimeSpan.FromSeconds(graceSeconds),
                    MaxBulkLanesPerConnection = lanes,
                }, logger, ownsStore: true);
            }
            catch (SocketException e)
            {
                store.Dispose();
                return context.Fail(KvTierCli.Failure, $"cannot listen on {endpoint}: {e.Message}");
            }
            catch
            {
                store.Dispose();
                throw;
            }

            using var stop = new CancellationTokenSource();
            using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal => { signal.Cancel = true; stop.Cancel(); });
            using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal => { signal.Cancel = true; stop.Cancel(); });
            context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"listening on {server.Endpoint}"));
            context.Output.Flush();
            try
            {
                stop.Token.WaitHandle.WaitOne();
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult(); // Graceful: in-flight requests finish, then the store closes.
            }
            return KvTierCli.Success;
        }));
        return command;
    }

    private static IPEndPoint ParseListen(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            throw new ArgumentException($"--listen {text}: expected HOST:PORT, such as 127.0.0.1:7400 (port 0 picks a free port).");
        string host = text[..colon].Trim('[', ']');
        if (IPAddress.TryParse(host, out IPAddress? address))
            return new IPEndPoint(address, port);
        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(host);
        }
        catch (SocketException e)
        {
            throw new ArgumentException($"--listen {text}: cannot resolve {host}: {e.Message}", e);
        }
        if (addresses.Length == 0)
            throw new ArgumentException($"--listen {text}: {host} has no address.");
        return new IPEndPoint(addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses[0], port);
    }

    private static X509Certificate2 LoadCertificate(string path, string? keyPath)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"--tls-cert {path}: no such file.", path);
        try
        {
            string extension = Path.GetExtension(path).ToLowerInvariant();
            if (extension is ".pfx" or ".p12")
                return X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(path, keyPath ?? path);
            // Through PKCS#12, so that the private key is usable by TLS on every platform.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new ArgumentException($"--tls-cert {path}: {e.Message}", e);
        }
    }
}
