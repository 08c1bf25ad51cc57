global using NUnit.Framework;
global using FastConv;
