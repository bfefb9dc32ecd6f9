using Llama4Cluster.Gateway.Hosting;

// libgomp reads its wait policy once, when libtorch loads: set it before anything touches torch (co-hosted silo).
Llama4Cluster.Kernels.Runtime.OpenMpSettings.PreferPassiveWaiting();
return await GatewayProgram.RunAsync(args);
