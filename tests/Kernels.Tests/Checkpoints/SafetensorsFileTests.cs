using System.Buffers.Binary;
using System.Text;
using Llama4Cluster.Kernels.Checkpoints;

namespace Llama4Cluster.Kernels.Tests.Checkpoints;

public sealed class SafetensorsFileTests
{
    /// <summary>Builds a file byte by byte: 8-byte LE header length, JSON header, data.</summary>
    internal static byte[] RawFile(string header, byte[] data, ulong? declaredLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }

    [Fact]
    public void ParsesAHandWrittenHeader()
    {
        using var dir = new TempDirectory();
        string path = dir.File("hand.safetensors");
        var data = new byte[8 + 6];
        BitConverter.GetBytes(1.5f).CopyTo(data, 0);
        BitConverter.GetBytes(-2f).CopyTo(data, 4);
        data[8] = 0x80; data[9] = 0x3F; // bf16 1.0
        data[10] = 0x00; data[11] = 0xC0; // bf16 -2.0
        data[12] = 0x38; data[13] = 0x7E; // e4m3 1.0, 448
        File.WriteAllBytes(path, RawFile(
            """{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[8,12]},"q":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[12,14]},"e":{"dtype":"I64","shape":[0],"data_offsets":[14,14]}}   """,
            data));

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["b", "e", "q", "w"], file.Tensors.Keys.Order());
        var w = file.Tensors["w"];
        Assert.Equal(SafetensorsDType.F32, w.DType);
        Assert.Equal([2L], w.Shape);
        Assert.Equal((0L, 8L), (w.DataStart, w.DataEnd));
        Assert.Equal(path, w.File);
        Assert.Equal(SafetensorsDType.BF16, file.Tensors["b"].DType);
        Assert.Equal([1L, 2L], file.Tensors["b"].Shape);
        Assert.Equal(SafetensorsDType.F8_E4M3, file.Tensors["q"].DType);
        Assert.Equal(0, file.Tensors["e"].ByteLength);

        var second = new byte[4];
        file.Read("w", 4, second);
        Assert.Equal(-2f, BitConverter.ToSingle(second));
        Assert.Equal(4, file.BytesRead);
        var b = new byte[4];
        file.Read("b", 0, b);
        var floats = new float[2];
        FloatFormats.DecodeToSingle(SafetensorsDType.BF16, b, floats);
        Assert.Equal([1f, -2f], floats);
        var q = new byte[2];
        file.Read("q", 0, q);
        FloatFormats.DecodeToSingle(SafetensorsDType.F8_E4M3, q, floats);
        Assert.Equal([1f, 448f], floats);
        Assert.Equal(10, file.BytesRead);
        Assert.Throws<CheckpointException>(() => file.Read("w", 6, new byte[4]));
    }

    [Fact]
    public void WriterOutputRoundTripsAndIsAligned()
    {
        using var dir = new TempDirectory();
        string path = dir.File("w.safetensors");
        var writer = new SafetensorsWriter();
        writer.AddSingles("a.weight", SafetensorsDType.F32, [2, 3], [1, 2, 3, 4, 5, 6]);
        writer.AddSingles("b", SafetensorsDType.BF16, [3], [1f, -0.5f, 3.140625f]);
        writer.AddSingles("c", SafetensorsDType.F16, [1], [0.5f]);
        writer.Add("d", SafetensorsDType.I64, [2], [.. BitConverter.GetBytes(7L), .. BitConverter.GetBytes(-1L)]);
        writer.Write(path);

        byte[] raw = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(raw);
        Assert.Equal(0UL, n % 8);
        Assert.Equal(8 + (long)n + 24 + 6 + 2 + 16, raw.Length);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(4, file.Tensors.Count);
        Assert.Equal([2L, 3L], file.Tensors["a.weight"].Shape);
        Assert.Equal((24L, 30L), (file.Tensors["b"].DataStart, file.Tensors["b"].DataEnd));
        var bytes = file.ReadAll("a.weight");
        var values = new float[6];
        FloatFormats.DecodeToSingle(SafetensorsDType.F32, bytes, values);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], values);
        var b = new float[3];
        FloatFormats.DecodeToSingle(SafetensorsDType.BF16, file.ReadAll("b"), b);
        Assert.Equal([1f, -0.5f, 3.140625f], b);
        Assert.Equal(-1L, BitConverter.ToInt64(file.ReadAll("d"), 8));
    }

    [Fact]
    public void CorruptHeaderLengthNamesTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad-length.safetensors");
        File.WriteAllBytes(path, RawFile("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", new byte[4], declaredLength: 1UL << 40));
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Equal(path, e.File);
        Assert.Contains("bad-length.safetensors", e.Message);
        Assert.Contains("corrupt header length", e.Message);
    }

    [Fact]
    public void HeaderThatIsNotJsonNamesTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("not-json.safetensors");
        File.WriteAllBytes(path, RawFile("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]""" + "\u0001garbage", new byte[4]));
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains("not-json.safetensors", e.Message);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void TruncatedFileNamesTheFileAndTheTensor()
    {
        using var dir = new TempDirectory();
        string path = dir.File("trunc.safetensors");
        var writer = new SafetensorsWriter();
        writer.AddSingles("first", SafetensorsDType.F32, [4], [1, 2, 3, 4]);
        writer.AddSingles("second", SafetensorsDType.F32, [4], [1, 2, 3, 4]);
        writer.Write(path);
        byte[] raw = File.ReadAllBytes(path);
        File.WriteAllBytes(path, raw[..^3]);
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Equal("second", e.Tensor);
        Assert.Contains("trunc.safetensors", e.Message);
        Assert.Contains("'second'", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void TinyFilesAreRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains("tiny.safetensors", e.Message);
    }

    [Theory]
    [InlineData("""{"x":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}""", "unknown dtype 'F7'")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", "needs 8")]
    [InlineData("""{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", "non-negative")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", "data_offsets")]
    [InlineData("""{"x":{"shape":[1],"data_offsets":[0,4]}}""", "no dtype")]
    [InlineData("""{"x":[1,2]}""", "not an object")]
    public void BadEntriesNameTheTensor(string header, string problem)
    {
        using var dir = new TempDirectory();
        string path = dir.File("entry.safetensors");
        File.WriteAllBytes(path, RawFile(header, new byte[8]));
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Equal("x", e.Tensor);
        Assert.Contains("entry.safetensors", e.Message);
        Assert.Contains("'x'", e.Message);
        Assert.Contains(problem, e.Message);
    }
}
