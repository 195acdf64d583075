using KvTier.Format;
using KvTier.Testing.Records;
using KvTier.Testing.Remote;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>
/// <c>kvtier serve</c> and <c>kvtier remote put|get|list</c> as real processes: two client processes share records
/// through one server bit-exact, the server stops gracefully on SIGTERM and, restarted over the same directory, still
/// has them; misses, refused connections and wrong tokens exit with their codes.
/// </summary>
public sealed class RemoteCommandTests : IDisposable
{
    private readonly StoreFixture _files = new();
    private readonly string _token;

    public RemoteCommandTests()
    {
        _token = _files.PathOf("token");
        File.WriteAllText(_token, "cli-test-token-0123456789abcdef\n");
    }

    [Fact]
    public void Two_client_processes_share_records_through_a_server_that_keeps_them_across_a_restart()
    {
        string[] records = [_files.WriteRecord(1), _files.WriteRecord(2, tokens: 300)];
        string[] expectedKeys = [.. records.Select(r => ChunkRecord.Parse(File.ReadAllBytes(r)).Header.Key.ToString())];
        using (var server = new ServeProcess(_files.Store, _token))
        {
            CliResult put = CliRunner.RunProcess(["remote", "put", "--server", server.Endpoint, "--token-file", _token, .. records]);
            Assert.True(put.ExitCode == 0, put.Error);
            Assert.Equal(expectedKeys, StoreFixture.Lines(put.Output));

            string copy = _files.PathOf("copy.kvt");
            CliResult get = CliRunner.RunProcess("remote", "get", "--server", server.Endpoint, "--token-file", _token, "--key", expectedKeys[1], "--out", copy);
            Assert.True(get.ExitCode == 0, get.Error);
            Assert.Equal(File.ReadAllBytes(records[1]), File.ReadAllBytes(copy));

            (int exit, string log) = server.Terminate();
            Assert.Equal(0, exit);
            Assert.Contains("kvtier server stopped", log, StringComparison.Ordinal);
        }

        // The store is closed: the local command opens it and sees the same records as the server listed.
        CliResult local = CliRunner.Run("store", "list", _files.Store);
        Assert.Equal(0, local.ExitCode);
        using (var again = new ServeProcess(_files.Store, _token))
        {
            CliResult list = CliRunner.RunProcess("remote", "list", "--server", again.Endpoint, "--token-file", _token);
            Assert.True(list.ExitCode == 0, list.Error);
            string[] remoteLines = StoreFixture.Lines(list.Output);
            string[] localLines = StoreFixture.Lines(local.Output);
            Assert.Equal(localLines[..^1], remoteLines[..^1]); // Same header and record lines; the summary names where.
            Assert.EndsWith($"in kvtier://{again.Endpoint}", remoteLines[^1], StringComparison.Ordinal);
            Assert.Equal(2, remoteLines.Count(l => !l.StartsWith('#')));

            string copy = _files.PathOf("after-restart.kvt");
            CliResult get = CliRunner.RunProcess("remote", "get", "--server", again.Endpoint, "--token-file", _token, "--key", expectedKeys[0], "--out", copy);
            Assert.True(get.ExitCode == 0, get.Error);
            Assert.Equal(File.ReadAllBytes(records[0]), File.ReadAllBytes(copy));
            Assert.Equal(0, again.Terminate().ExitCode);
        }
    }

    [Fact]
    public void A_miss_a_refused_connection_and_a_wrong_token_exit_with_their_codes()
    {
        string wrongToken = _files.PathOf("wrong-token");
        File.WriteAllText(wrongToken, "another-token-0123456789abcdefgh");
        string output = _files.PathOf("out.kvt");
        string missing = TestRecords.Key(99).ToString();
        using var server = new ServeProcess(_files.Store, _token);

        CliResult miss = CliRunner.Run("remote", "get", "--server", server.Endpoint, "--token-file", _token, "--key", missing, "--out", output);
        CliResult wrong = CliRunner.Run("remote", "list", "--server", server.Endpoint, "--token-file", wrongToken);
        server.Terminate();
        CliResult refused = CliRunner.Run("remote", "get", "--server", server.Endpoint, "--token-file", _token, "--key", missing, "--out", output);

        Assert.Equal(4, miss.ExitCode);
        Assert.Equal($"kvtier: key {missing} is not stored on kvtier://{server.Endpoint}.", miss.Error.TrimEnd('\n'));
        Assert.Equal(1, wrong.ExitCode);
        Assert.StartsWith("kvtier: authentication failed", wrong.Error, StringComparison.Ordinal);
        Assert.Equal(5, refused.ExitCode);
        Assert.StartsWith("kvtier: could not connect", refused.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("65")]
    public void Serve_refuses_a_bulk_lane_count_out_of_range_before_it_listens(string lanes)
    {
        CliResult result = CliRunner.Run("serve", "--listen", "127.0.0.1:0", "--data", _files.Store, "--token-file", _token, "--bulk-lanes", lanes);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"--bulk-lanes {lanes} must be between 0 and 64", result.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_files.Store, "index"))); // Refused before the store was opened.
    }

    public void Dispose() => _files.Dispose();
}
