namespace Llama4Cluster.Core.Tests.Sampling;

/// <summary>
/// Tests that measure this thread's allocations run alone: with other test classes running in
/// parallel, runtime work (tiered re-JIT, pool refills) lands on the measuring thread and is counted.
/// </summary>
[CollectionDefinition(nameof(AllocationMeasurementCollection), DisableParallelization = true)]
public sealed class AllocationMeasurementCollection;
