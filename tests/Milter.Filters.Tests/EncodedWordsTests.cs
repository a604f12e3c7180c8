using Milter.Filters.Context;

namespace Milter.Filters.Tests;

public sealed class EncodedWordsTests
{
    public static TheoryData<string, string> Cases => new()
    {
        // plain text, untouched except for the trim
        { "  Hello world ", "Hello world" },
        // B and Q, upper and lower case markers
        { "=?UTF-8?B?SGVsbG8gd29ybGQ=?=", "Hello world" },
        { "=?utf-8?b?SGVsbG8gd29ybGQ?=", "Hello world" },                 // padding dropped by the sender
        { "=?UTF-8?Q?Hello_world?=", "Hello world" },
        { "=?utf-8?q?caf=C3=A9?=", "café" },
        // charsets .NET has built in, and code pages
        { "=?ISO-8859-1?Q?Gr=FC=DFe?=", "Grüße" },
        { "=?windows-1252?Q?=80_price?=", "€ price" },
        { "=?koi8-r?B?8NLJ18XU?=", "Привет" },
        { "=?UTF8?Q?caf=C3=A9?=", "café" },                               // aliases, found without an exception
        { "=?l1?Q?Gr=FC=DFe?=", "Grüße" },
        { "=?iso-2022-jp?B?GyRCJEskTyQkJEgbKEI=?=", "にはいと" },
        { "=?utf-8*en?Q?language_tag?=", "language tag" },                // RFC 2231 language suffix
        // whitespace between adjacent words is dropped; next to plain text it is kept
        { "=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab" },
        { "=?utf-8?Q?a?=\r\n\t=?utf-8?Q?b?=", "ab" },
        { "Re: =?utf-8?Q?caf=C3=A9?= au lait", "Re: café au lait" },
        { "=?utf-8?Q?a?= plain =?utf-8?Q?b?=", "a plain b" },
        // a character split across two words in one charset survives
        { "=?utf-8?Q?=E2=9C?= =?utf-8?Q?=93_done?=", "✓ done" },
        // different charsets side by side
        { "=?iso-8859-1?Q?=E9?= =?utf-8?Q?=C3=A9?=", "éé" },
        // folding removed
        { "one\r\n two\n\tthree", "one two\tthree" },
        // what does not decode stays as written
        { "=?x-no-such-charset?Q?abc?=", "=?x-no-such-charset?Q?abc?=" },
        { "=?utf-8?X?abc?=", "=?utf-8?X?abc?=" },
        { "=?utf-8?B?!!!?=", "=?utf-8?B?!!!?=" },
        { "=?utf-8?Q?bad=ZZ?=", "=?utf-8?Q?bad=ZZ?=" },
        { "=?utf-8?Q?no end", "=?utf-8?Q?no end" },
        { "=?utf-8?Q?a b?=", "=?utf-8?Q?a b?=" },
        { "price =? 10", "price =? 10" },
        { "=?utf-7?Q?abc?=", "=?utf-7?Q?abc?=" },              // a charset .NET refuses to decode
        { "=?x\u0001y?Q?abc?=", "=?x\u0001y?Q?abc?=" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decodes_like_a_mail_reader(string raw, string expected) =>
        Assert.Equal(expected, EncodedWords.Decode(raw));

    [Fact]
    public void A_megabyte_of_hostile_encoded_word_starts_decodes_to_itself()
    {
        var hostile = string.Concat(Enumerable.Repeat("=?a?B?=?", 1 << 17));
        Assert.Equal(hostile, EncodedWords.Decode(hostile));
    }

    [Fact]
    public void A_megabyte_of_encoded_words_decodes_completely()
    {
        var word = "=?utf-8?B?w6k=?= ";
        var text = string.Concat(Enumerable.Repeat(word, (1 << 20) / word.Length));
        var decoded = EncodedWords.Decode(text);
        Assert.Equal((1 << 20) / word.Length, decoded.Length);
        Assert.All(decoded, c => Assert.Equal('é', c));
    }

    [Fact]
    public void Encoded_words_in_made_up_charsets_cost_a_few_lookups_and_leave_the_known_ones_decoded()
    {
        // A hostile Subject: thousands of words, each in a charset of its own that .NET does not
        // have. Every lookup of an unknown name is an exception; a header gets only a few of them.
        var junk = string.Concat(Enumerable.Range(0, 2000).Select(n => $"=?x-junk-{n}?Q?a?= "));
        var header = junk + "=?utf-8?q?caf=C3=A9?= =?koi8-r?B?8NLJ18XU?= =?latin1?Q?Gr=FC=DFe?= =?x-other?Q?zz?=";
        var thread = Environment.CurrentManagedThreadId;
        var exceptions = 0;
        void Count(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
        {
            if (Environment.CurrentManagedThreadId == thread)
                exceptions++;
        }

        AppDomain.CurrentDomain.FirstChanceException += Count;
        string decoded;
        try
        {
            decoded = EncodedWords.Decode(header);
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }

        Assert.InRange(exceptions, 0, 4);
        Assert.StartsWith("=?x-junk-0?Q?a?= =?x-junk-1?Q?a?=", decoded, StringComparison.Ordinal);
        // utf-8, its aliases and the code pages are found without asking.
        Assert.EndsWith("=?x-junk-1999?Q?a?= caféПриветGrüße =?x-other?Q?zz?=", decoded, StringComparison.Ordinal);
    }
}
