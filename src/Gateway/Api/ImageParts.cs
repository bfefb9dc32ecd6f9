using System.Text.Json;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Gateway.Model;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// The images of one chat request, in prompt order: each <c>image_url</c> part's bytes (a <c>data:</c> URL, or an http(s)
/// URL fetched beforehand when allowed) decoded and cut into the model's tiles (spec §5.1), within the request limits
/// (<see cref="RequestLimits.MaxImages"/>, <see cref="RequestLimits.MaxImageBytes"/>, <see cref="RequestLimits.MaxImageTiles"/>,
/// <see cref="RequestLimits.MaxImagePixels"/>). Every problem is a 400 naming the part.
/// </summary>
internal sealed class ImageParts(ServedModel model, ApiOptions options, IReadOnlyDictionary<string, byte[]>? fetched)
{
    /// <summary>Most tiles one image is cut into (HF's <c>max_patches</c>), the global tile aside.</summary>
    public const int MaxTilesPerImage = 16;

    private readonly List<ImageTiles> _images = new();
    private readonly ImageTokenSet? _ids = model.Vision is null ? null : ImageTokenSet.FromTokenizer(model.Tokenizer);
    private int _tiles;

    public int Count => _images.Count;

    public IReadOnlyList<ImageTiles> All => _images;

    /// <summary>The token layout of image <paramref name="index"/> (spec §5.4), for the chat template.</summary>
    public IReadOnlyList<int> Layout(int index) => ImageTokenLayout.Tokens(_images[index], model.Vision!.TokensPerTile, _ids!);

    /// <summary>Reads one <c>image_url</c> (or <c>image</c>) part: <c>{"type": "image_url", "image_url": {"url": "data:image/png;base64,…"}}</c>;
    /// a bare string in place of the object is accepted too.</summary>
    public void Add(RequestFields part, string path)
    {
        var limits = options.Limits;
        if (model.Vision is not { } vision)
            throw ApiException.BadRequest($"image input is not supported: model {model.Id} has no vision tower (its config.json has no vision_config) ({path}).", path);
        if (_images.Count >= limits.MaxImages)
            throw ApiException.BadRequest($"{path}: at most {limits.MaxImages} images are accepted in one request.", path);
        var (url, urlPath) = Url(part, path);
        byte[] bytes = Bytes(url, urlPath, limits.MaxImageBytes);
        ImageTiles image;
        try
        {
            image = ImagePreprocessor.Preprocess(bytes, vision.TileSize, MaxTilesPerImage, limits.MaxImagePixels);
        }
        catch (InvalidImageException e)
        {
            throw ApiException.BadRequest($"{urlPath}: {e.Message}", urlPath);
        }

        if (_tiles + image.TileCount > limits.MaxImageTiles)
            throw ApiException.BadRequest(
                $"{path}: the request's images come to {_tiles + image.TileCount} tiles of {vision.TileSize} pixels; at most {limits.MaxImageTiles} are accepted " +
                "(an image is cut into up to 16 tiles plus a global one): send fewer or smaller images.", path);
        _tiles += image.TileCount;
        _images.Add(image);
    }

    private static (string Url, string Path) Url(RequestFields part, string path)
    {
        foreach (var name in new[] { "image_url", "image" })
        {
            if (!part.TryGet(name, out var value)) continue;
            string valuePath = $"{path}.{name}";
            if (value.ValueKind == JsonValueKind.String) return (value.GetString()!, valuePath);
            if (value.ValueKind != JsonValueKind.Object)
                throw ApiException.WrongType(valuePath, "an object with a url", value.ValueKind);
            var fields = new RequestFields(value);
            if (fields.TryGet("detail", out var detail) && (detail.ValueKind != JsonValueKind.String || detail.GetString() is not ("auto" or "low" or "high")))
                throw ApiException.BadRequest($"{valuePath}.detail must be \"auto\", \"low\" or \"high\".", $"{valuePath}.detail");
            var url = fields.String("url", $"{valuePath}.url")
                ?? throw ApiException.BadRequest($"{valuePath}.url is required: a data: URL such as data:image/png;base64,….", $"{valuePath}.url");
            return (url, $"{valuePath}.url");
        }

        throw ApiException.BadRequest($"{path}.image_url is required: {{\"url\": \"data:image/png;base64,…\"}}.", $"{path}.image_url");
    }

    private byte[] Bytes(string url, string path, int maxBytes)
    {
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase)) return DataUrl(url, path, maxBytes);
        if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            if (fetched is null)
                throw ApiException.BadRequest(
                    $"{path}: this server does not fetch images from URLs; send the image inline as a data: URL (data:image/png;base64,…) " +
                    "or start the gateway with --allow-image-urls.", path);
            return fetched.TryGetValue(url, out var bytes) ? bytes : throw new InvalidOperationException($"{url} was not fetched");
        }

        throw ApiException.BadRequest($"{path}: expected a data: URL (data:image/png;base64,…) or an http(s) URL.", path);
    }

    /// <summary>The bytes of <c>data:[media type][;base64],DATA</c>; only base64 image data is accepted.</summary>
    private static byte[] DataUrl(string url, string path, int maxBytes)
    {
        int comma = url.IndexOf(',');
        if (comma < 0) throw ApiException.BadRequest($"{path}: a data: URL needs a comma before its data.", path);
        var header = url.AsSpan(5, comma - 5);
        if (!header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            throw ApiException.BadRequest($"{path}: only base64 data: URLs are accepted (data:image/png;base64,…).", path);
        var mediaType = header[..^";base64".Length];
        int semicolon = mediaType.IndexOf(';');
        if (semicolon >= 0) mediaType = mediaType[..semicolon];
        if (mediaType.Length > 0 && !mediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase))
            throw ApiException.BadRequest($"{path}: the data: URL holds {mediaType.ToString()}, not an image.", path);
        var data = url.AsSpan(comma + 1);
        long decoded = (long)data.Length * 3 / 4;
        if (decoded > maxBytes + 3L)
            throw ApiException.BadRequest($"{path}: the image is about {decoded} bytes; at most {maxBytes} are accepted.", path);
        var buffer = new byte[decoded + 3];
        if (!Convert.TryFromBase64Chars(data, buffer, out int written))
            throw ApiException.BadRequest($"{path}: the data: URL's data is not valid base64.", path);
        if (written > maxBytes)
            throw ApiException.BadRequest($"{path}: the image is {written} bytes; at most {maxBytes} are accepted.", path);
        return buffer.AsSpan(0, written).ToArray();
    }
}
