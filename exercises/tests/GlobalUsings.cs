global using FastConv;
global using NUnit.Framework;
