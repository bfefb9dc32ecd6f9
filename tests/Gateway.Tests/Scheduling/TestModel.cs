using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Gateway.Tests.Scheduling;

/// <summary>
/// The served model of the scheduler tests: the tiny-scout config (vocabulary 512, 256 positions) with a real tiny
/// tokenizer, written once to a temporary directory and loaded from it. The scheduler reads only the vocabulary size,
/// the max length and the EOS ids; no weights are needed.
/// </summary>
internal static class TestModel
{
    private static readonly Lazy<ServedModel> s_served = new(Create);

    public static ServedModel Served => s_served.Value;

    /// <summary>What the scheduler checks submissions against.</summary>
    public static ModelLimits Limits => new(Served.Config.VocabSize, Served.MaxModelLength, Served.EosTokenIds);

    /// <summary>The first EOS id (a special token, outside the byte range <see cref="FakeStepBackend.DefaultNext"/> draws from).</summary>
    public static int Eos => Served.EosTokenIds[0];

    private static ServedModel Create()
    {
        var config = Llama4Presets.TinyScout;
        var directory = Path.Combine(Path.GetTempPath(), "l4c-scheduler-tests-" + Guid.NewGuid().ToString("N"));
        try
        {
            var info = TinyTokenizerWriter.Write(directory, config.VocabSize);
            var tokenizer = Llama4Tokenizer.Load(directory);
            return new ServedModel("tiny-scout", directory, config, tokenizer, config.MaxPositionEmbeddings, info.EosTokenIds, Created: 0);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
