namespace Llama4Cluster.Core.Config;

/// <summary>
/// The vision tower of a Llama 4 checkpoint (<c>vision_config</c> in <c>config.json</c>; spec §1.3, §5): the encoder over
/// square tiles of <see cref="ImageSize"/> pixels cut into <see cref="PatchSize"/> patches, the pixel shuffle, the adapter
/// MLP and the projector into the text model's hidden size. Tile and patch sizes always come from here, never from
/// constants.
/// </summary>
public sealed record Llama4VisionConfig
{
    public required int HiddenSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    /// <summary>Encoder MLP width; also the pixel-shuffled width (<see cref="HiddenSize"/> / ratio²), spec §5.3.</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>The side of a square tile in pixels (336 for Scout and Maverick).</summary>
    public required int ImageSize { get; init; }
    /// <summary>The side of a square patch in pixels (14 for Scout and Maverick).</summary>
    public required int PatchSize { get; init; }
    public int NumChannels { get; init; } = 3;
    public double PixelShuffleRatio { get; init; } = 0.5;
    public required int ProjectorInputDim { get; init; }
    public required int ProjectorOutputDim { get; init; }
    public required int VisionOutputDim { get; init; }
    public double RopeTheta { get; init; } = 10000;
    public double NormEps { get; init; } = 1e-5;
    public bool MultiModalProjectorBias { get; init; }

    /// <summary>Attention head width (<see cref="HiddenSize"/> / heads).</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Patches along one side of a tile (24 for 336 / 14).</summary>
    public int PatchesPerSide => ImageSize / PatchSize;

    /// <summary>Patches of one tile (576), before the class token is appended.</summary>
    public int PatchesPerTile => PatchesPerSide * PatchesPerSide;

    /// <summary>Values of one flattened patch (<c>channels · patch²</c>, 588).</summary>
    public int PatchValues => NumChannels * PatchSize * PatchSize;

    /// <summary>Tokens per tile after the pixel shuffle: the <c>&lt;|patch|&gt;</c> count of one tile (144).</summary>
    public int TokensPerTile => (int)Math.Round(PatchesPerTile * PixelShuffleRatio * PixelShuffleRatio);

    /// <summary>Width of a pixel-shuffled token (<see cref="HiddenSize"/> / ratio², 5632).</summary>
    public int ShuffledWidth => (int)Math.Round(HiddenSize / (PixelShuffleRatio * PixelShuffleRatio));

    /// <summary>Parameters of the vision tower and the projector into <paramref name="textHiddenSize"/> (spec §1.4: 871,932,416
    /// for Scout and Maverick).</summary>
    public long TotalParameters(int textHiddenSize)
    {
        long h = HiddenSize, f = IntermediateSize;
        long layer = 4 * (h * h + h) + (h * f + f) + (f * h + h) + 4 * h;
        long total = (long)PatchValues * h + h + (PatchesPerTile + 1L) * h + 4 * h + NumHiddenLayers * layer;
        total += (long)ShuffledWidth * ProjectorInputDim + (long)ProjectorInputDim * ProjectorOutputDim;
        total += (long)VisionOutputDim * textHiddenSize + (MultiModalProjectorBias ? textHiddenSize : 0);
        return total;
    }

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> naming the field when the values cannot describe a Llama 4 vision tower
    /// (including the size ties of spec §5.3).
    /// </summary>
    public void Validate(string source = "config")
    {
        void Require(bool ok, string message)
        {
            if (!ok) throw new InvalidDataException($"{source}: vision_config: {message}");
        }
        Require(HiddenSize > 0 && NumHiddenLayers > 0 && NumAttentionHeads > 0, "hidden_size, num_hidden_layers and num_attention_heads must be positive");
        Require(HiddenSize % NumAttentionHeads == 0, $"hidden_size ({HiddenSize}) must be a multiple of num_attention_heads ({NumAttentionHeads})");
        Require(HeadDim % 4 == 0, $"the head width ({HeadDim}) must be a multiple of 4 (2-D RoPE rotates pairs, half by column, half by row)");
        Require(ImageSize > 0 && PatchSize > 0 && ImageSize % PatchSize == 0, $"image_size ({ImageSize}) must be a positive multiple of patch_size ({PatchSize})");
        Require(NumChannels == 3, $"num_channels must be 3 (RGB); got {NumChannels}");
        Require(PixelShuffleRatio > 0 && PixelShuffleRatio <= 1, $"pixel_shuffle_ratio must be in (0, 1]; got {PixelShuffleRatio}");
        double side = PatchesPerSide * PixelShuffleRatio;
        Require(Math.Abs(side - Math.Round(side)) < 1e-9, $"{PatchesPerSide} patches per side do not shuffle evenly with ratio {PixelShuffleRatio}");
        Require(IntermediateSize == ShuffledWidth, $"intermediate_size ({IntermediateSize}) must equal hidden_size / pixel_shuffle_ratio² ({ShuffledWidth})");
        Require(ProjectorInputDim == ProjectorOutputDim, $"projector_input_dim ({ProjectorInputDim}) must equal projector_output_dim ({ProjectorOutputDim})");
        Require(VisionOutputDim == ProjectorOutputDim, $"vision_output_dim ({VisionOutputDim}) must equal projector_output_dim ({ProjectorOutputDim})");
        Require(NormEps > 0, "norm_eps must be positive");
        Require(RopeTheta > 0, "rope_theta must be positive");
    }

    /// <summary>Scout's and Maverick's vision tower (spec §1.3).</summary>
    public static Llama4VisionConfig Published { get; } = new()
    {
        HiddenSize = 1408,
        NumHiddenLayers = 34,
        NumAttentionHeads = 16,
        IntermediateSize = 5632,
        ImageSize = 336,
        PatchSize = 14,
        ProjectorInputDim = 4096,
        ProjectorOutputDim = 4096,
        VisionOutputDim = 4096,
    };

    /// <summary>The tiny vision tower of the tiny presets (spec §6): 56-pixel tiles of 14-pixel patches, 4 tokens per tile.</summary>
    public static Llama4VisionConfig Tiny { get; } = new()
    {
        HiddenSize = 16,
        NumHiddenLayers = 2,
        NumAttentionHeads = 2,
        IntermediateSize = 64,
        ImageSize = 56,
        PatchSize = 14,
        ProjectorInputDim = 32,
        ProjectorOutputDim = 32,
        VisionOutputDim = 32,
    };
}
