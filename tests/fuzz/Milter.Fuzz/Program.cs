using Milter.Fuzz;
using SharpFuzz;

// Modes (tests/fuzz/README.md):
//   (no arguments)              the libFuzzer target, started by the driver (tests/fuzz/run.sh)
//   seed CAPTURES OUTPUT        writes the MTA side of every capture as one seed input
//   replay PATH...              runs every input file (or folder of them) once; exit 1 if any fails
switch (args)
{
    case ["seed", var captures, var output]:
        return Corpus.Seed(captures, output, Console.Out);
    case ["replay", .. var paths] when paths.Length > 0:
        return Corpus.Replay(paths, Console.Out);
    case []:
        Fuzzer.LibFuzzer.Run(SessionTarget.Run);
        return 0;
    default:
        Console.Error.WriteLine("usage: Milter.Fuzz [seed CAPTURES OUTPUT | replay PATH...]");
        return 2;
}
