namespace Milter.Filters.Context;

/// <summary>One RCPT TO as the filters see it.</summary>
/// <param name="Address">The recipient without angle brackets, as the client wrote it.</param>
/// <param name="Mailer">sendmail's <c>{rcpt_mailer}</c> (<c>local</c>, <c>esmtp</c>, <c>relay</c>, <c>error</c>), when sent.</param>
public sealed record RecipientContext(string Address, string? Mailer = null);
