using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// What the gateway serves and how, bound from the <c>Gateway</c> configuration section (environment <c>Gateway__*</c>);
/// every command-line flag maps onto one property (<see cref="GatewayCommandLine"/>).
/// </summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Hugging Face checkpoint directory (<c>--model</c>). Empty: the tiny demo model from the cache (co-hosted mode only).</summary>
    public string ModelDirectory { get; set; } = "";

    /// <summary>HTTP port (<c>--port</c>); 0 lets the OS choose.</summary>
    public int Port { get; set; } = 8000;

    /// <summary>Port of the Orleans dashboard (<c>--dashboard</c>, its own HTTP listener on every interface); 0: any free port.
    /// Null: no dashboard. With <c>--redis</c> the silos need <c>--dashboard</c> too (the dashboard's grains live on silos).</summary>
    public int? DashboardPort { get; set; }

    /// <summary>Address to listen on (<c>--host</c>): <c>localhost</c>, an IP address, <c>0.0.0.0</c>/<c>*</c> (every interface).</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>Redis membership of an existing cluster of silo processes (<c>--redis HOST:PORT</c>). Empty: co-host a silo in this process.</summary>
    public string Redis { get; set; } = "";

    /// <summary>Orleans cluster id (<c>--cluster-id</c>); the silos' default is <c>llama4</c>.</summary>
    public string ClusterId { get; set; } = Llama4ClientOptions.DefaultClusterId;

    /// <summary>Orleans service id; the silos use <c>llama4</c>.</summary>
    public string ServiceId { get; set; } = Llama4ClientOptions.DefaultServiceId;

    /// <summary>Attention ranks (<c>--ranks</c>); must equal the silos' <c>--ranks</c> when joining a cluster.</summary>
    public int AttentionRanks { get; set; } = 1;

    /// <summary>Expert shards per MoE layer (<c>--shards</c>); must equal the silos' <c>--shards</c> when joining a cluster.</summary>
    public int ShardsPerLayer { get; set; } = 2;

    /// <summary>Whether chat requests may send images as http(s) URLs, which the gateway then fetches
    /// (<c>--allow-image-urls</c>); off: images come inline as <c>data:</c> URLs only.</summary>
    public bool AllowImageUrls { get; set; }

    /// <summary>Bearer key clients must send (<c>--api-key</c>, or environment <c>LLAMA4_API_KEY</c>). Empty: no key.</summary>
    public string ApiKey { get; set; } = "";

    /// <summary>Model name clients send and <c>/v1/models</c> lists (<c>--served-model-name</c>). Empty: the checkpoint directory's name.</summary>
    public string ServedModelName { get; set; } = "";

    /// <summary>Longest prompt + completion (<c>--max-model-len</c>); null: the checkpoint's max_position_embeddings.</summary>
    public int? MaxModelLength { get; set; }

    /// <summary>Most sequences in the running batch (<c>--max-num-seqs</c>); null: the scheduler's default.</summary>
    public int? MaxNumSeqs { get; set; }

    /// <summary>Most tokens one engine step carries, prefill chunks included (<c>--max-step-tokens</c>); null: the scheduler's default.</summary>
    public int? MaxStepTokens { get; set; }

    /// <summary>
    /// Compute dtype of the co-hosted silo (<c>--dtype float32|bfloat16|auto</c>, auto: the checkpoint's dtype); the wire follows it. Null: the silo default
    /// (<c>ClusterModelOptions.DType</c>, fp32: exact, and greedy results do not depend on what else is in the batch. In bf16 the
    /// kernels' accumulation order depends on the batch shape, so a sequence's tokens may change with its neighbours
    /// (measured on tiny-scout: 29 of 64 greedy streams of 24 tokens differed between alone and 64 at once; none in fp32;
    /// <see cref="BatchInvariant"/> removes that); choose bf16 for speed on real models).
    /// </summary>
    public string? DType { get; set; }

    /// <summary>bf16 with batch-invariant kernels in the co-hosted silo (<c>--batch-invariant true</c>; with <c>--redis</c>
    /// the silos' own setting decides): a request's greedy tokens are then the same whatever else is in its batch.</summary>
    public bool BatchInvariant { get; set; }

    /// <summary>Torch device of the co-hosted silo (<c>--device cpu|cuda:N</c>).</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>Torch intra-op threads of the co-hosted silo (<c>--threads</c>); null: one per core.</summary>
    public int? Threads { get; set; }

    /// <summary>Where the tiny demo model is created (<c>--cache-dir</c>). Empty: <c>$LLAMA4_CACHE</c>, else <c>~/.cache/llama4cluster</c>.</summary>
    public string CacheDirectory { get; set; } = "";

    /// <summary>
    /// What carries expert activations inside the co-hosted silo (<c>--data-plane tcp|orleans</c>). Null: the silo default
    /// (<c>ClusterModelOptions.DataPlane</c>, tcp). Measured in one process with both side by side, steps interleaved (decode
    /// step time tcp ÷ orleans, tiny-scout and a 4-layer D 2048 MoE, batches 1/8/32, bf16, 2 shared cores): 0.91-1.23, no
    /// consistent difference, so the co-hosted silo takes the same default as silo processes.
    /// </summary>
    public DataPlaneKind? DataPlane { get; set; }

    /// <summary>
    /// Prefix caching (<c>--enable-prefix-caching true|false</c>, vLLM's flag): the co-hosted silo's attention ranks keep
    /// the KV of shared prompt prefixes and the scheduler routes by them (with <c>--redis</c>, the silos' own
    /// <c>Llama4:PrefixCache</c> decides the caching; this flag then only turns routing on or off).
    /// </summary>
    public bool EnablePrefixCaching { get; set; } = true;

    /// <summary>Tokens per prefix-cache block (<c>--prefix-block-size N</c>) of the co-hosted ranks and of routing (the largest
    /// divisor of the model's attention_chunk_size not above it is used).</summary>
    public int PrefixBlockSize { get; set; } = 16;

    /// <summary>Orleans' maximum message body size for the gateway's client side, as the silos set it (64 MiB).</summary>
    public int MaxMessageBytes { get; set; } = Llama4ClientOptions.DefaultMaxMessageBytes;

    /// <summary>True when the gateway joins a cluster of silo processes through Redis instead of co-hosting a silo.</summary>
    public bool JoinsCluster => !string.IsNullOrWhiteSpace(Redis);
}
