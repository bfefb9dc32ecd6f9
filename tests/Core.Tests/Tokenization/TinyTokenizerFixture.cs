using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Tests.Tokenization;

/// <summary>
/// A 512-id tiny tokenizer (the tiny configs' vocabulary size) written once per test class: <see cref="Directory"/>
/// has all three files, <see cref="JsonOnlyDirectory"/> only the HF <c>tokenizer.json</c> + <c>tokenizer_config.json</c>.
/// </summary>
public sealed class TinyTokenizerFixture : IDisposable
{
    public const int VocabSize = 512;

    public TinyTokenizerFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "l4c-tok-" + Guid.NewGuid().ToString("N"));
        Directory = Path.Combine(Root, "all");
        JsonOnlyDirectory = Path.Combine(Root, "json");
        Info = TinyTokenizerWriter.Write(Directory, VocabSize);
        System.IO.Directory.CreateDirectory(JsonOnlyDirectory);
        foreach (var name in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(Directory, name), Path.Combine(JsonOnlyDirectory, name));
        }

        Tokenizer = Llama4Tokenizer.Load(Directory);
        JsonTokenizer = Llama4Tokenizer.Load(JsonOnlyDirectory);
    }

    public string Root { get; }

    public string Directory { get; }

    public string JsonOnlyDirectory { get; }

    public TinyTokenizerInfo Info { get; }

    /// <summary>Loaded from the directory with all files (tokenizer.model preferred).</summary>
    public Llama4Tokenizer Tokenizer { get; }

    /// <summary>Loaded from tokenizer.json alone.</summary>
    public Llama4Tokenizer JsonTokenizer { get; }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder is harmless.
        }
    }
}
