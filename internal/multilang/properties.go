package multilang

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Property is one key and value of a .properties file, with the line it started on.
type Property struct {
	Key, Value string
	Line       int
}

// SyntaxError is a .properties file that cannot be read.
type SyntaxError struct {
	Line   int
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("multilang: properties line %d: %s", e.Line, e.Reason)
}

// ParseProperties reads text in the format of java.util.Properties: key=value, key:value or
// "key value" lines, # and ! comments, backslash line continuations and escapes (\t, \n,
// \uXXXX...). Properties come back in file order; a later duplicate overrides an earlier one
// when applied. The text is read as UTF-8 (Java reads ISO-8859-1: write non-ASCII as \uXXXX
// to be read the same by both).
func ParseProperties(text string) ([]Property, error) {
	if !utf8.ValidString(text) {
		return nil, &SyntaxError{Line: 1, Reason: "not UTF-8 text"}
	}
	var props []Property
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines: an odd number of trailing backslashes.
		for endsWithContinuation(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if endsWithContinuation(line) {
			line = line[:len(line)-1] // a continuation at end of file continues with nothing
		}
		rawKey, rawValue := splitKeyValue(line)
		key, err := unescape(rawKey)
		if err != nil {
			return nil, &SyntaxError{Line: start, Reason: "key: " + err.Error()}
		}
		value, err := unescape(rawValue)
		if err != nil {
			return nil, &SyntaxError{Line: start, Reason: "value of " + key + ": " + err.Error()}
		}
		props = append(props, Property{Key: key, Value: value, Line: start})
	}
	return props, nil
}

func endsWithContinuation(line string) bool {
	n := 0
	for j := len(line) - 1; j >= 0 && line[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits at the first unescaped '=', ':' or white space, then skips white
// space and one separator.
func splitKeyValue(line string) (key, value string) {
	end := len(line)
	for j := 0; j < len(line); j++ {
		c := line[j]
		if c == '\\' {
			j++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			end = j
			break
		}
	}
	key, rest := line[:end], line[end:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, rest
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, err := hex4(s, i+1)
			if err != nil {
				return "", err
			}
			i += 4
			// A UTF-16 surrogate pair spells one rune, as Java's strings hold it.
			if utf16.IsSurrogate(r) && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if lo, err := hex4(s, i+3); err == nil {
					if pair := utf16.DecodeRune(r, lo); pair != utf8.RuneError {
						r = pair
						i += 6
					}
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// hex4 reads the four hex digits of a \u escape starting at s[at].
func hex4(s string, at int) (rune, error) {
	if at+4 > len(s) {
		return 0, fmt.Errorf("malformed \\u escape %q", s[at-2:])
	}
	n, err := strconv.ParseUint(s[at:at+4], 16, 16)
	if err != nil {
		return 0, fmt.Errorf("malformed \\u escape %q", s[at-2:at+4])
	}
	return rune(n), nil
}
