using Llama4Cluster.Silos.Hosting;

// Before any torch call: libgomp reads its wait policy once, and spinning OpenMP threads of several silo processes
// sharing a host steal the cores the kernels need (see OpenMpSettings).
Llama4Cluster.Kernels.Runtime.OpenMpSettings.PreferPassiveWaiting();
return await SiloProgram.RunAsync(args);
