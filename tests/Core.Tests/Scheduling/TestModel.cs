using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>
/// The model of the scheduler tests: the tiny-scout config (vocabulary 512, 256 positions) with the EOS ids of a real
/// tiny tokenizer. The scheduler reads only the vocabulary size, the max length and the EOS ids; no weights are needed.
/// </summary>
internal static class TestModel
{
    private static readonly Lazy<ModelLimits> s_limits = new(Create);

    public static ModelLimits Limits => s_limits.Value;

    /// <summary>The first EOS id (a special token, outside the byte range <see cref="FakeStepBackend.DefaultNext"/> draws from).</summary>
    public static int Eos => Limits.EosTokenIds[0];

    private static ModelLimits Create()
    {
        var config = Llama4Presets.TinyScout;
        var directory = Path.Combine(Path.GetTempPath(), "l4c-scheduler-tests-" + Guid.NewGuid().ToString("N"));
        try
        {
            var info = TinyTokenizerWriter.Write(directory, config.VocabSize);
            return new ModelLimits(config.VocabSize, config.MaxPositionEmbeddings, info.EosTokenIds);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
