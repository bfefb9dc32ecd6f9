namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// A <see cref="DecodeAttentionBlock"/> unit in plain C#, for CPUs without AVX-512 (tests force it):
/// the same scores, unnormalized block softmax and value sums as the vector passes, one element at a time.
/// </summary>
internal static unsafe class DecodeAttentionScalar
{
    public static void Run<TKv>(DecodeAttentionJob* job, int c, int g0, int count, int j0, int j1, int unit, float* scores)
        where TKv : struct, IDecodeAttentionKv
    {
        int hd = job->HeadDim, n = j1 - j0, bk = job->BlockKeys, ps = job->PartialStride;
        long rowBytes = job->RowStride;
        long headOffset = c * job->HeadStride;
        float* q = job->Q + (long)(c * job->Group + g0) * hd;
        byte* k = (byte*)job->Keys + (long)j0 * rowBytes + headOffset;
        for (int j = 0; j < n; j++, k += rowBytes)
        {
            for (int g = 0; g < count; g++)
            {
                float acc = 0;
                for (int i = 0; i < hd; i++)
                {
                    acc += TKv.Load1(k, i) * q[g * hd + i];
                }

                scores[g * bk + j] = acc;
            }
        }

        float* part = job->Partials + ((long)unit * job->Group + g0) * ps;
        for (int g = 0; g < count; g++)
        {
            float* s = scores + g * bk;
            float max = float.NegativeInfinity;
            for (int j = 0; j < n; j++)
            {
                max = MathF.Max(max, s[j]);
            }

            float sum = 0;
            for (int j = 0; j < n; j++)
            {
                s[j] = MathF.Exp(s[j] - max);
                sum += s[j];
            }

            part[g * ps + ps - 16] = max;
            part[g * ps + ps - 15] = sum;
        }

        byte* vBase = (byte*)job->Values + (long)j0 * rowBytes + headOffset;
        DecodeAttentionValuePass.ValueTail<TKv>(vBase, rowBytes, 0, hd, n, count, scores, bk, part, ps);
    }
}
