using FastConv.Cli;

return Commands.Run(args);
