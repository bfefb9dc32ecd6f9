using System.Diagnostics;

namespace Llama4Cluster.Silos.DataPlane;

/// <summary>
/// The W3C trace context at the end of a data-plane request's meta: one byte (0: none; 1: present), then when present the
/// trace id (16 bytes), the parent span id (8 bytes) and the trace flags (1 byte, bit 0: sampled) — the fields of a
/// <c>traceparent</c> header in binary. Trace state is not carried (the project sets none).
/// </summary>
internal static class DataPlaneTraceContext
{
    private const int PresentLength = 1 + 16 + 8 + 1;

    public static int Length(ActivityContext context) => context == default ? 1 : PresentLength;

    public static void Write(Span<byte> span, ref int o, ActivityContext context)
    {
        if (context == default)
        {
            span[o++] = 0;
            return;
        }
        span[o++] = 1;
        context.TraceId.CopyTo(span.Slice(o, 16));
        o += 16;
        context.SpanId.CopyTo(span.Slice(o, 8));
        o += 8;
        span[o++] = (byte)context.TraceFlags;
    }

    /// <summary>The context (remote: it came from another process), or default when the frame carries none.</summary>
    public static ActivityContext Read(ReadOnlySpan<byte> meta, ref int o)
    {
        if (meta.Length - o < 1) throw new InvalidDataException("data-plane request meta lacks its trace-context byte");
        byte present = meta[o++];
        if (present == 0) return default;
        if (present != 1 || meta.Length - o < PresentLength - 1) throw new InvalidDataException($"data-plane request meta has an invalid trace context (marker {present})");
        var traceId = ActivityTraceId.CreateFromBytes(meta.Slice(o, 16));
        var spanId = ActivitySpanId.CreateFromBytes(meta.Slice(o + 16, 8));
        var flags = (ActivityTraceFlags)(meta[o + 24] & 1);
        o += PresentLength - 1;
        return new ActivityContext(traceId, spanId, flags, isRemote: true);
    }
}
