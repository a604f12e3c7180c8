namespace Milter.TestSupport; internal static class Placeholder {}
