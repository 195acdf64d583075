using System.Text;

namespace KvTier.Cli.Conformance;

/// <summary>
/// Splits <c>--decoder "COMMAND"</c> into a program and its arguments without a shell: words are separated by
/// whitespace; single or double quotes group characters (spaces included) into a word and are removed; there are no
/// escapes, variables or globs. <c>"/bin/sh -c 'exit 1'"</c> gives <c>/bin/sh</c>, <c>-c</c>, <c>exit 1</c>.
/// </summary>
internal static class DecoderCommandLine
{
    /// <summary>The words of <paramref name="command"/>; the first is the program.</summary>
    /// <exception cref="ArgumentException">The command is empty or a quote is not closed.</exception>
    public static string[] Split(string command)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        foreach (char c in command)
        {
            if (quote != '\0')
            {
                if (c == quote)
                    quote = '\0';
                else
                    word.Append(c);
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                    words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (quote != '\0')
            throw new ArgumentException($"--decoder \"{command}\": the quote {quote} is not closed.", nameof(command));
        if (inWord)
            words.Add(word.ToString());
        if (words.Count == 0)
            throw new ArgumentException("--decoder is empty.", nameof(command));
        return [.. words];
    }
}
