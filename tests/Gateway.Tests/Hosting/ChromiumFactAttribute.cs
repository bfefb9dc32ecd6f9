namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>A test that drives the system chromium (Playwright with its executable; no browser download): skipped where none is
/// installed (.ci/run installs it).</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Executable() is null) Skip = "chromium is not installed (apt-get install -y chromium)";
    }

    public static string? Executable() =>
        new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);
}
