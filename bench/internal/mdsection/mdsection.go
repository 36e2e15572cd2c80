// Package mdsection keeps named sections of a Markdown file that several
// benchmark commands write: each command owns the text between its
// section's markers, "<!-- name:begin -->" and "<!-- name:end -->", and a
// command that rewrites the whole file keeps the other sections.
package mdsection

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

func markers(name string) (begin, end string) {
	return "<!-- " + name + ":begin -->", "<!-- " + name + ":end -->"
}

// Write replaces section name of the file at path with body, or appends the
// section when the file has none (creating the file if needed).
func Write(path, name, body string) error {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	begin, end := markers(name)
	s := string(b)
	block := begin + "\n" + strings.TrimRight(body, "\n") + "\n\n" + end + "\n"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i >= 0 && j > i {
		s = s[:i] + block + strings.TrimPrefix(s[j+len(end):], "\n")
	} else {
		s = strings.TrimRight(s, "\n") + "\n\n" + block
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// Keep returns content with section name of the file at path appended, if
// that file has the section and content does not: what a command that
// rewrites the whole file calls before writing it.
func Keep(path, name, content string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return content
	}
	begin, end := markers(name)
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i || strings.Contains(content, begin) {
		return content
	}
	return strings.TrimRight(content, "\n") + "\n\n" + s[i:j+len(end)] + "\n"
}
