using FastConv.Cli;
using FastConv.Native;
using FastConv.OpenCL;

// The composition root: the backends this tool ships register themselves (the core brings managed and reference).
NativeBackend.Register();
OpenClBackend.Register();
return Commands.Run(args);
