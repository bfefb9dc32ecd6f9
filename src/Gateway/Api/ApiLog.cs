using Microsoft.Extensions.Logging;

namespace Llama4Cluster.Gateway.Api;

/// <summary>The API's log messages.</summary>
internal static partial class ApiLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected error answering {Method} {Path}")]
    public static partial void Unexpected(ILogger logger, string method, string path, Exception error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Generation failed for {Path}")]
    public static partial void GenerationFailed(ILogger logger, string path, Exception error);
}
