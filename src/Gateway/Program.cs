using Llama4Cluster.Gateway.Hosting;

return await GatewayProgram.RunAsync(args);
