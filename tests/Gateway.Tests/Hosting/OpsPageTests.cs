using System.Net;
using Llama4Cluster.Gateway.Tests.EndToEnd;
using Microsoft.Playwright;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>
/// <c>GET /ops</c>, the operations page, in the system chromium: it shows the cluster ready with its ranks and shards, and its
/// layer × expert heatmap fills with the tokens routed by requests sent meanwhile. The waits only guard against a hang.
/// </summary>
public sealed class OpsPageTests(TelemetryFixture fixture) : IClassFixture<TelemetryFixture>
{
    private const float HangGuardMs = 60_000;

    [Fact]
    public async Task TheGatewayServesTheOpsPage()
    {
        using var response = await fixture.Gateway.Http.GetAsync("ops");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("id=\"heatmap\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [ChromiumFact]
    public async Task TheOpsPageShowsTheClusterAndItsHeatmapChangesUnderLoad()
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumFactAttribute.Executable(),
            Headless = true,
            Args = ["--no-sandbox"],
        });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(new Uri(fixture.Gateway.BaseAddress, "ops").ToString());

        await page.Locator("#ready").Filter(new() { HasText = "ready" }).WaitForAsync(new() { Timeout = HangGuardMs });
        Assert.Equal("1 / 1", await page.Locator("#ranks").InnerTextAsync());
        Assert.Equal("8 / 8", await page.Locator("#shards").InnerTextAsync()); // tiny-scout: 4 MoE layers × 2 shards
        await page.Locator("#silos tbody tr").First.WaitForAsync(new() { Timeout = HangGuardMs });
        Assert.Equal(1, await page.Locator("#silos tbody tr").CountAsync()); // the co-hosted silo
        Assert.Contains("Active", await page.Locator("#silos tbody tr").InnerTextAsync(), StringComparison.Ordinal);

        // Load: requests keep arriving while the page refreshes; a refresh then shows cells with routed tokens.
        using var load = new CancellationTokenSource();
        var requests = Task.Run(async () =>
        {
            while (!load.IsCancellationRequested)
                await CompletionsHttp.CompleteAsync(fixture.Gateway.Http, CompletionsHttp.Body("tiny-scout", [7, 8, 9, 10], maxTokens: 4, stream: false));
        });
        try
        {
            await page.WaitForFunctionAsync(
                "() => [...document.querySelectorAll('#heatmap td')].some(c => Number(c.dataset.tokens) > 0)",
                null, new() { Timeout = HangGuardMs, PollingInterval = 200 });
        }
        finally
        {
            await load.CancelAsync();
            await requests;
        }

        // One row per MoE layer of tiny-scout (4) under the header; a column per expert routed to so far.
        Assert.Equal(1 + 4, await page.Locator("#heatmap tr").CountAsync());
        Assert.True(await page.Locator("#heatmap td").CountAsync() >= 4);
        // Tokens/s needs two refreshes (a rate); the heatmap may fill on the first one, so wait for the second.
        await page.WaitForFunctionAsync("() => document.querySelector('#tps').textContent !== '–'", null,
            new() { Timeout = HangGuardMs, PollingInterval = 200 });
        Assert.True(double.TryParse(await page.Locator("#tps").InnerTextAsync(), System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out double tps) && tps >= 0, "tokens/s is a number");
    }
}
