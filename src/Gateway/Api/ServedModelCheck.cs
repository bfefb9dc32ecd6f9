using Llama4Cluster.Gateway.Model;
using Microsoft.AspNetCore.Http;

namespace Llama4Cluster.Gateway.Api;

/// <summary>The <c>model</c> field: required, and it must name the served model.</summary>
internal static class ServedModelCheck
{
    /// <exception cref="ApiException">400 when missing or not a string; 404 <c>model_not_found</c> for another name.</exception>
    public static void Require(RequestFields fields, ServedModel model)
    {
        var name = fields.String("model");
        if (string.IsNullOrEmpty(name))
        {
            throw ApiException.BadRequest($"model is required: set it to \"{model.Id}\" (see GET /v1/models).", "model");
        }

        if (!string.Equals(name, model.Id, StringComparison.Ordinal))
        {
            throw NotFound(name, model);
        }
    }

    /// <summary>Ids both the model (embedding rows) and the tokenizer know: valid prompt and stop token ids.</summary>
    public static int VocabSize(ServedModel model) => Math.Min(model.Config.VocabSize, model.Tokenizer.VocabSize);

    public static ApiException NotFound(string name, ServedModel model) => new(
        StatusCodes.Status404NotFound,
        $"The model `{name}` does not exist. This server serves \"{model.Id}\".",
        ApiException.InvalidRequest,
        "model",
        "model_not_found");
}
