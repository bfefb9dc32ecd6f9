using Llama4Cluster.Silos.Hosting;

return await SiloProgram.RunAsync(args);
