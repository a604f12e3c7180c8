using Milter.Filters.Logging;
using TestSupport;

namespace Milter.Filters.Tests.Logging;

public sealed class EventIdTests
{
    [Fact]
    public void Every_log_line_has_its_own_id_from_the_one_table() => LogEventIds.AssertOneTable(typeof(FilterEventId));
}
