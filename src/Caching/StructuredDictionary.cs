using System.Globalization;
using System.Text;

namespace CacheCluster.Caching;

/// <summary>The type of a Structured Field bare item (RFC 8941 3.3).</summary>
public enum StructuredItemKind { Integer, Decimal, String, Token, ByteSequence, Boolean, InnerList }

/// <summary>
/// One dictionary member's value. Only what cache directives need is kept: the kind and the scalar value
/// (parameters are parsed for validity and dropped, as RFC 9213 2.2 says to ignore them).
/// </summary>
public readonly record struct StructuredItem(StructuredItemKind Kind, long Integer = 0, string? Text = null, bool Boolean = false);

/// <summary>
/// A strict parser for Structured Field Dictionaries (RFC 8941 3.2 / 4.2.2), the syntax of targeted
/// cache-control fields (RFC 9213 2.2). Any syntax error makes the whole field invalid (returns false).
/// A repeated key keeps its last value (RFC 8941 3.2).
/// </summary>
public static class StructuredDictionary
{
    public static bool TryParse(string input, out IReadOnlyList<KeyValuePair<string, StructuredItem>> members)
    {
        var result = new List<KeyValuePair<string, StructuredItem>>();
        members = result;
        var p = new Parser(input);
        p.SkipSp();
        if (p.End) return false; // an empty field is "not present" for our purposes
        while (!p.End)
        {
            if (!p.TryKey(out var key)) return false;
            StructuredItem item;
            if (p.Peek == '=')
            {
                p.Advance();
                if (!p.TryItemOrInnerList(out item)) return false;
            }
            else
            {
                item = new StructuredItem(StructuredItemKind.Boolean, Boolean: true);
                if (!p.TryParameters()) return false;
            }
            int existing = result.FindIndex(m => m.Key == key);
            if (existing >= 0) result.RemoveAt(existing);
            result.Add(new(key, item));
            p.SkipOws();
            if (p.End) return true;
            if (p.Peek != ',') return false;
            p.Advance();
            p.SkipOws();
            if (p.End) return false; // trailing comma
        }
        return true;
    }

    private ref struct Parser(string s)
    {
        private readonly string _s = s.TrimEnd(' ');
        private int _i;

        public readonly bool End => _i >= _s.Length;
        public readonly char Peek => _i < _s.Length ? _s[_i] : '\0';
        public void Advance() => _i++;
        public void SkipSp() { while (!End && _s[_i] == ' ') _i++; }
        public void SkipOws() { while (!End && (_s[_i] == ' ' || _s[_i] == '\t')) _i++; }

        public bool TryKey(out string key)
        {
            key = "";
            if (End || !(IsLcAlpha(Peek) || Peek == '*')) return false;
            int start = _i;
            while (!End && (IsLcAlpha(Peek) || char.IsAsciiDigit(Peek) || Peek is '_' or '-' or '.' or '*')) _i++;
            key = _s[start.._i];
            return true;
        }

        public bool TryItemOrInnerList(out StructuredItem item)
        {
            if (Peek == '(')
            {
                item = new StructuredItem(StructuredItemKind.InnerList);
                _i++;
                while (true)
                {
                    SkipSp();
                    if (End) return false;
                    if (Peek == ')') { _i++; return TryParameters(); }
                    if (!TryBareItem(out _) || !TryParameters()) return false;
                    if (!End && Peek != ' ' && Peek != ')') return false;
                }
            }
            return TryBareItem(out item) && TryParameters();
        }

        public bool TryParameters()
        {
            while (!End && Peek == ';')
            {
                _i++;
                SkipSp();
                if (!TryKey(out _)) return false;
                if (Peek == '=')
                {
                    _i++;
                    if (!TryBareItem(out _)) return false;
                }
            }
            return true;
        }

        private bool TryBareItem(out StructuredItem item)
        {
            item = default;
            if (End) return false;
            char c = Peek;
            if (c == '-' || char.IsAsciiDigit(c)) return TryNumber(out item);
            if (c == '"') return TryString(out item);
            if (c == '*' || char.IsAsciiLetter(c)) return TryToken(out item);
            if (c == ':') return TryBytes(out item);
            if (c == '?')
            {
                _i++;
                if (End || (Peek != '0' && Peek != '1')) return false;
                item = new StructuredItem(StructuredItemKind.Boolean, Boolean: Peek == '1');
                _i++;
                return true;
            }
            return false;
        }

        private bool TryNumber(out StructuredItem item)
        {
            item = default;
            bool negative = false;
            if (Peek == '-') { negative = true; _i++; }
            if (End || !char.IsAsciiDigit(Peek)) return false;
            int start = _i;
            bool isDecimal = false;
            while (!End)
            {
                char c = Peek;
                if (char.IsAsciiDigit(c)) _i++;
                else if (c == '.' && !isDecimal)
                {
                    if (_i - start > 12) return false;
                    isDecimal = true;
                    _i++;
                }
                else break;
                if (!isDecimal && _i - start > 15) return false;
                if (isDecimal && _i - start > 16) return false;
            }
            var text = _s.AsSpan(start, _i - start);
            if (isDecimal)
            {
                int dot = text.IndexOf('.');
                int frac = text.Length - dot - 1;
                if (frac is < 1 or > 3) return false;
                item = new StructuredItem(StructuredItemKind.Decimal, Text: (negative ? "-" : "") + text.ToString());
                return true;
            }
            long v = long.Parse(text, CultureInfo.InvariantCulture);
            item = new StructuredItem(StructuredItemKind.Integer, Integer: negative ? -v : v);
            return true;
        }

        private bool TryString(out StructuredItem item)
        {
            item = default;
            _i++; // opening quote
            var sb = new StringBuilder();
            while (!End)
            {
                char c = _s[_i++];
                if (c == '\\')
                {
                    if (End) return false;
                    char n = _s[_i++];
                    if (n != '"' && n != '\\') return false;
                    sb.Append(n);
                }
                else if (c == '"')
                {
                    item = new StructuredItem(StructuredItemKind.String, Text: sb.ToString());
                    return true;
                }
                else if (c < 0x20 || c > 0x7e) return false;
                else sb.Append(c);
            }
            return false; // no closing quote
        }

        private bool TryToken(out StructuredItem item)
        {
            int start = _i;
            _i++;
            while (!End && (IsTChar(Peek) || Peek is ':' or '/')) _i++;
            item = new StructuredItem(StructuredItemKind.Token, Text: _s[start.._i]);
            return true;
        }

        private bool TryBytes(out StructuredItem item)
        {
            item = default;
            _i++;
            int start = _i;
            while (!End && Peek != ':')
            {
                char c = Peek;
                if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=')) return false;
                _i++;
            }
            if (End) return false;
            var text = _s[start.._i];
            _i++;
            item = new StructuredItem(StructuredItemKind.ByteSequence, Text: text);
            return true;
        }

        private static bool IsLcAlpha(char c) => c is >= 'a' and <= 'z';

        private static bool IsTChar(char c) =>
            char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';
    }
}
