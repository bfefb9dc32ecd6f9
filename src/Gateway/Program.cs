// Placeholder entry point; Hosting builds the real application.
var app = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder(args).Build();
app.Run();
