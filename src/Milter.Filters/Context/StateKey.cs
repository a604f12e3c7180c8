namespace Milter.Filters.Context;

/// <summary>
/// Names one piece of a filter's scratch state in <see cref="FilterState"/> and says its type, so a
/// filter reads back what it stored without a cast. Keys compare by instance: a filter keeps its key
/// in a static readonly field, and no other filter can reach its state by guessing the name.
/// </summary>
/// <param name="name">For debugging and messages: the filter's name and what the state is.</param>
public sealed class StateKey<T>(string name) where T : notnull
{
    public string Name { get; } = name;

    public override string ToString() => Name;
}
