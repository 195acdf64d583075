using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using KvTier.Testing;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>
/// <c>kvtier</c> ships as a .NET tool: <c>dotnet pack</c> of the command's project (from the build the test command
/// already made) gives a DotnetTool package with the README and a symbols package, <c>dotnet tool install</c> installs it,
/// and the installed command runs.
/// </summary>
public sealed class ToolPackageTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kvtier-tool-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void The_packed_tool_installs_and_runs()
    {
        string project = Path.Combine(RepositoryFiles.Root(), "src", "KvTier.Cli", "KvTier.Cli.csproj");
        string packages = Path.Combine(_root, "packages");
        Dotnet(RepositoryFiles.Root(), "pack", project, "-c", "Release", "--no-build", "-o", packages);

        string package = Assert.Single(Directory.GetFiles(packages, "KvTier.Cli.*.nupkg"));
        Assert.Single(Directory.GetFiles(packages, "KvTier.Cli.*.snupkg"));
        using (ZipArchive zip = ZipFile.OpenRead(package))
        {
            Assert.NotNull(zip.GetEntry("README.md"));
            ZipArchiveEntry nuspec = Assert.Single(zip.Entries, e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
            using Stream stream = nuspec.Open();
            XDocument xml = XDocument.Load(stream);
            XNamespace ns = xml.Root!.Name.Namespace;
            Assert.Equal("DotnetTool", xml.Descendants(ns + "packageType").Single().Attribute("name")?.Value);
            Assert.False(string.IsNullOrWhiteSpace(xml.Descendants(ns + "description").Single().Value));
            Assert.Contains(zip.Entries, e => e.FullName.EndsWith("/DotnetToolSettings.xml", StringComparison.Ordinal));
        }

        string version = Path.GetFileNameWithoutExtension(package)["KvTier.Cli.".Length..];
        string tools = Path.Combine(_root, "tools");
        Dotnet(_root, "tool", "install", "--tool-path", tools, "--add-source", packages, "KvTier.Cli", "--version", version);
        (int code, string output) = Run(_root, Path.Combine(tools, "kvtier"), "codecs");
        Assert.Equal(0, code);
        Assert.Contains("# default codec:", output, StringComparison.Ordinal);
    }

    private static void Dotnet(string directory, params string[] args)
    {
        (int code, string output) = Run(directory, "dotnet", args);
        Assert.True(code == 0, $"dotnet {string.Join(' ', args)} exited {code}:\n{output}");
    }

    private static (int Code, string Output) Run(string directory, string program, params string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in 5 minutes.");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
