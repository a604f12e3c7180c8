using System.Diagnostics.CodeAnalysis;

namespace Milter.Filters.Context;

/// <summary>
/// The filters' scratch state for one message or one SMTP session (<see cref="SessionContext.MessageState"/>,
/// <see cref="SessionContext.SessionState"/>), typed by <see cref="StateKey{T}"/>.
/// </summary>
public sealed class FilterState
{
    // Made at the first value stored: most sessions of a busy server end before any filter keeps state.
    private Dictionary<object, object>? _values;

    private Dictionary<object, object> Values => _values ??= new(ReferenceEqualityComparer.Instance);

    /// <summary>The value stored under <paramref name="key"/>, if any.</summary>
    public bool TryGet<T>(StateKey<T> key, [MaybeNullWhen(false)] out T value) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_values is not null && _values.TryGetValue(key, out var stored))
        {
            // Only Set<T> writes, with a key of the same T.
            value = (T)stored;
            return true;
        }
        value = default;
        return false;
    }

    /// <summary>The value under <paramref name="key"/>, made with <paramref name="create"/> and stored when there is none.</summary>
    public T GetOrAdd<T>(StateKey<T> key, Func<T> create) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(create);
        if (TryGet(key, out var value))
            return value;
        value = create();
        Values[key] = value;
        return value;
    }

    /// <summary>As <see cref="GetOrAdd{T}(StateKey{T}, Func{T})"/>, with an argument for <paramref name="create"/>, so a static lambda allocates nothing.</summary>
    public T GetOrAdd<T, TArg>(StateKey<T> key, Func<TArg, T> create, TArg argument) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(create);
        if (TryGet(key, out var value))
            return value;
        value = create(argument);
        Values[key] = value;
        return value;
    }

    public void Set<T>(StateKey<T> key, T value) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        Values[key] = value;
    }

    public bool Contains<T>(StateKey<T> key) where T : notnull => _values is not null && _values.ContainsKey(key);

    /// <summary>Drops every value (the message ended).</summary>
    public void Clear() => _values?.Clear();
}
