package config

import (
	"fmt"
	"os"
	"strings"
)

// expandEnv replaces ${NAME} and ${NAME:-default} in data, outside YAML
// comments. It keeps line structure intact (values with newlines are
// rejected) so YAML line numbers stay right, and returns one error per
// unset variable.
func expandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, []error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var out strings.Builder
	var errs []error
	s := string(data)
	line := 1
	inComment, quote := false, byte(0)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			inComment, quote = false, 0
		case inComment:
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n'):
			inComment = true
		}
		if inComment {
			out.WriteByte(c)
			i++
			continue
		}
		if s[i] != '$' || i+1 >= len(s) || s[i+1] != '{' || i+2 >= len(s) || !isNameStart(s[i+2]) {
			out.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			out.WriteString(s[i:])
			break
		}
		ref := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validName(name) {
			out.WriteString(s[i : i+end+1])
			i += end + 1
			continue
		}
		val, ok := lookup(name)
		switch {
		case ok:
		case hasDef:
			val = def
		default:
			errs = append(errs, fmt.Errorf("line %d: environment variable %s is not set (use ${%s:-default} for a default)", line, name, name))
		}
		if strings.ContainsAny(val, "\n\r") {
			errs = append(errs, fmt.Errorf("line %d: environment variable %s contains a newline", line, name))
			val = ""
		}
		out.WriteString(val)
		i += end + 1
	}
	return []byte(out.String()), errs
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func validName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isNameStart(c) && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
