using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Milter.Micro.ProtocolBenchmarks).Assembly).Run(args);
