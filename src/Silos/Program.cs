using Llama4Cluster.Silos.Hosting;

// Before any torch call: libgomp reads its wait policy once, and spinning OpenMP threads of several silo processes
// sharing a host steal the cores the kernels need (see OpenMpSettings); and freed native memory is kept for libtorch's
// next temporaries instead of being faulted in afresh (see NativeHeapSettings).
Llama4Cluster.Kernels.Runtime.NativeRuntimeSettings.ApplyBeforeTorch();
return await SiloProgram.RunAsync(args);
