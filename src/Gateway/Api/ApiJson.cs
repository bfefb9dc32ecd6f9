using System.Text.Encodings.Web;
using System.Text.Json;

namespace Llama4Cluster.Gateway.Api;

/// <summary>How the API reads and writes JSON.</summary>
internal static class ApiJson
{
    /// <summary>Responses keep non-ASCII text as UTF-8 (as vLLM does) instead of <c>\uXXXX</c> escapes: the body is
    /// JSON over HTTP or SSE, never embedded in HTML.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Request bodies: strict JSON (no comments or trailing commas), nesting bounded.</summary>
    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>Logprobs go out as JSON numbers, which cannot hold -infinity: vLLM's floor of -9999.</summary>
    public static double Logprob(float value) => float.IsNaN(value) ? -9999.0 : Math.Max(value, -9999.0);
}
