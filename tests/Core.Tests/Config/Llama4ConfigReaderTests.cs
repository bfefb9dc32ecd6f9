using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Core.Tests.Config;

public sealed class Llama4ConfigReaderTests
{
    // The Maverick Hub config as TensorRT-LLM's tests copy it (verbatim fields, layers trimmed to 4 here).
    private const string MaverickLike = """
        {"architectures": ["Llama4ForConditionalGeneration"], "model_type": "llama4",
         "boi_token_index": 200080, "eoi_token_index": 200081, "image_token_index": 200092,
         "tie_word_embeddings": false,
         "text_config": {"model_type": "llama4_text", "attention_bias": false, "attention_chunk_size": 8192,
           "attention_dropout": 0.0, "bos_token_id": 200000, "eos_token_id": [200001, 200007, 200008],
           "for_llm_compressor": false, "head_dim": 128, "hidden_act": "silu", "hidden_size": 5120,
           "initializer_range": 0.02, "interleave_moe_layer_step": 2, "intermediate_size": 8192,
           "intermediate_size_mlp": 16384, "max_position_embeddings": 1048576, "no_rope_layers": [],
           "num_attention_heads": 40, "num_experts_per_tok": 1, "num_hidden_layers": 4,
           "num_key_value_heads": 8, "num_local_experts": 128, "output_router_logits": false,
           "pad_token_id": 200018, "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 500000.0,
           "router_aux_loss_coef": 0.001, "router_jitter_noise": 0.0, "use_cache": true,
           "use_qk_norm": false, "vocab_size": 202048}}
        """;

    [Fact]
    public void ConditionalGenerationShapeDerivesMoeAndNoPeLayers()
    {
        var c = Llama4ConfigReader.Parse(MaverickLike);
        Assert.Equal([false, true, false, true], c.MoeLayers);
        // no_rope_layers empty -> default interval 4: layer 3 is NoPE.
        Assert.Equal([true, true, true, false], c.RopeLayers);
        Assert.Null(c.RopeScaling);
        Assert.False(c.UseQkNorm);
        Assert.Equal([200001, 200007, 200008], c.EosTokenIds);
        Assert.Equal(200018, c.PadTokenId);
        Assert.True(c.AttnTemperatureTuning); // HF class default
        Assert.Equal(8192, c.FloorScale);
        Assert.Equal(0.1, c.AttnScale);
    }

    [Fact]
    public void FlatCausalLmShapeAndScoutRopeScalingWithIntTemperatureFlag()
    {
        var json = """
            {"architectures": ["Llama4ForCausalLM"], "model_type": "llama4_text", "hidden_size": 64,
             "num_hidden_layers": 8, "num_attention_heads": 4, "num_key_value_heads": 2,
             "attn_temperature_tuning": 4, "eos_token_id": 7,
             "rope_scaling": {"rope_type": "llama3", "factor": 16.0, "low_freq_factor": 1.0,
               "high_freq_factor": 1.0, "original_max_position_embeddings": 8192}}
            """;
        var c = Llama4ConfigReader.Parse(json);
        Assert.Equal(new RopeScaling(16, 1, 1, 8192), c.RopeScaling);
        Assert.True(c.AttnTemperatureTuning);
        Assert.Equal([7], c.EosTokenIds);
        Assert.Equal(128, c.HeadDim); // HF field default, not hidden/heads = 16
        Assert.All(c.MoeLayers, Assert.True); // interleave step default 1
        Assert.Equal([true, true, true, false, true, true, true, false], c.RopeLayers);
    }

    [Fact]
    public void NoRopeLayersOneMeansRopeOn()
    {
        var c = Llama4ConfigReader.Parse("""{"num_hidden_layers": 3, "no_rope_layers": [0, 1, 0], "moe_layers": [2]}""");
        Assert.Equal([false, true, false], c.RopeLayers);
        Assert.Equal([false, false, true], c.MoeLayers);
    }

    [Fact]
    public void RopeParametersOfTransformersV5AreRead()
    {
        var c = Llama4ConfigReader.Parse("""
            {"num_hidden_layers": 4, "rope_parameters": {"rope_type": "llama3", "rope_theta": 12345.0, "factor": 8.0,
              "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}
            """);
        Assert.Equal(12345.0, c.RopeTheta);
        Assert.Equal(new RopeScaling(8, 1, 4, 64), c.RopeScaling);

        var plain = Llama4ConfigReader.Parse("""{"num_hidden_layers": 4, "rope_parameters": {"rope_type": "default", "rope_theta": 777.0}}""");
        Assert.Null(plain.RopeScaling);
        Assert.Equal(777.0, plain.RopeTheta);
    }

    [Fact]
    public void LayerTypesMustAgreeWithNoRopeLayers()
    {
        var ok = Llama4ConfigReader.Parse("""
            {"num_hidden_layers": 2, "no_rope_layers": [1, 0], "layer_types": ["chunked_attention", "full_attention"]}
            """);
        Assert.Equal([true, false], ok.RopeLayers);
        var e = Assert.Throws<InvalidDataException>(() => Llama4ConfigReader.Parse("""
            {"num_hidden_layers": 2, "no_rope_layers": [1, 0], "layer_types": ["full_attention", "full_attention"]}
            """, "x/config.json"));
        Assert.Contains("x/config.json", e.Message);
        Assert.Contains("layer_types[0]", e.Message);
    }

    [Fact]
    public void NullChunkSizeWithRopeLayersIsRejected()
    {
        var e = Assert.Throws<InvalidDataException>(() => Llama4ConfigReader.Parse("""{"num_hidden_layers": 4, "attention_chunk_size": null}"""));
        Assert.Contains("attention_chunk_size", e.Message);
        // All layers NoPE: no chunk size is needed.
        var c = Llama4ConfigReader.Parse("""{"num_hidden_layers": 2, "attention_chunk_size": null, "no_rope_layers": [0, 0]}""");
        Assert.Null(c.AttentionChunkSize);
    }

    [Fact]
    public void WrongTypesAndBadJsonNameTheFieldAndFile()
    {
        var e1 = Assert.Throws<InvalidDataException>(() => Llama4ConfigReader.Parse("""{"hidden_size": "big"}""", "m/config.json"));
        Assert.Contains("m/config.json", e1.Message);
        Assert.Contains("hidden_size", e1.Message);
        var e2 = Assert.Throws<InvalidDataException>(() => Llama4ConfigReader.Parse("{", "m/config.json"));
        Assert.Contains("not valid JSON", e2.Message);
        var e3 = Assert.Throws<InvalidDataException>(() => Llama4ConfigReader.Parse("""{"num_attention_heads": 6, "num_key_value_heads": 4}"""));
        Assert.Contains("multiple", e3.Message);
    }

    [Fact]
    public void StaleScoutRopeScalingWarns()
    {
        var warnings = new List<string>();
        Llama4ConfigReader.Parse("""
            {"num_hidden_layers": 4, "num_local_experts": 16, "hidden_size": 5120,
             "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192}}
            """, warn: warnings.Add);
        Assert.Single(warnings);
        Assert.Contains("16", warnings[0]);
    }

    [Theory]
    [InlineData("tiny-scout", true)]
    [InlineData("tiny-maverick", true)]
    [InlineData("tiny-scout", false)]
    [InlineData("maverick", true)]
    [InlineData("scout", false)]
    public void WriterRoundTripsEveryPreset(string preset, bool conditional)
    {
        var c = Llama4Presets.Get(preset);
        var back = Llama4ConfigReader.Parse(Llama4ConfigWriter.ToJson(c, conditional));
        Assert.Equal(c.MoeLayers, back.MoeLayers);
        Assert.Equal(c.RopeLayers, back.RopeLayers);
        Assert.Equal(c.EosTokenIds, back.EosTokenIds);
        Assert.Equal(c with { MoeLayers = back.MoeLayers, RopeLayers = back.RopeLayers, EosTokenIds = back.EosTokenIds }, back);
    }
}
