package object

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// ErrMalformed matches every [*DecodeError] with errors.Is.
var ErrMalformed = errors.New("malformed manifest")

// DecodeError reports input that is not a stream of Kubernetes objects:
// malformed YAML or JSON, a document that is not a mapping, or an object
// without apiVersion or kind.
type DecodeError struct {
	Source string // the file or other label the caller passed to Decode
	Line   int    // 1-based line in Source; 0 when unknown
	Err    error  // what went wrong
}

func (e *DecodeError) Error() string {
	msg := cleanYAMLMessage(e.Err.Error())
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, msg)
	}
	return fmt.Sprintf("%s: %s", e.Source, msg)
}

// Unwrap returns the underlying parser error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrMalformed].
func (e *DecodeError) Is(target error) bool { return target == ErrMalformed }

var (
	yamlLineRE = regexp.MustCompile(`line (\d+)`)
	yamlPrefix = regexp.MustCompile(`^(error converting YAML to JSON: )?yaml: (line \d+: )?`)
)

func cleanYAMLMessage(s string) string { return yamlPrefix.ReplaceAllString(s, "") }

// maxListDepth bounds how deeply nested Lists are expanded.
const maxListDepth = 8

// Decode reads a stream of YAML documents separated by "---" lines (or JSON
// documents) into objects, in input order. source names the input in errors.
//
// Documents that are empty or hold only comments are skipped. An object
// whose kind ends in "List" and which has an items array is expanded into its
// items (recursively); items of a typed list such as ConfigMapList that omit
// apiVersion and kind inherit them from the list. Numbers are decoded as the
// API server does: integers as int64, others as float64.
//
// Any other input gives a [*DecodeError] with the source and line.
func Decode(data []byte, source string) ([]*unstructured.Unstructured, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var out []*unstructured.Unstructured
	for doc := range splitDocuments(data) {
		objs, err := decodeDocument(doc.data, source, doc.line)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

type document struct {
	data []byte
	line int // 1-based line of the document's first line
}

// splitDocuments yields the documents of a YAML stream. A separator is a line
// starting with "---" followed only by white space, the same rule as
// apimachinery's YAMLReader.
func splitDocuments(data []byte) func(func(document) bool) {
	return func(yield func(document) bool) {
		start, startLine, line := 0, 1, 1
		for pos := 0; pos <= len(data); {
			end := bytes.IndexByte(data[pos:], '\n')
			next := len(data) + 1
			if end >= 0 {
				end += pos
				next = end + 1
			} else {
				end = len(data)
			}
			l := data[pos:end]
			if bytes.HasPrefix(l, []byte("---")) && len(bytes.TrimSpace(l[3:])) == 0 {
				if !yield(document{data: data[start:pos], line: startLine}) {
					return
				}
				start, startLine = next, line+1
				if start > len(data) {
					start = len(data)
				}
			}
			pos = next
			line++
		}
		if start < len(data) {
			yield(document{data: data[start:], line: startLine})
		}
	}
}

func decodeDocument(doc []byte, source string, line int) ([]*unstructured.Unstructured, error) {
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 {
		return nil, nil
	}
	var js []byte
	if trimmed[0] == '{' && json.Valid(trimmed) {
		js = trimmed
	} else {
		var err error
		js, err = utilyaml.ToJSON(doc)
		if err != nil {
			return nil, &DecodeError{Source: source, Line: line + yamlLine(err) - 1, Err: err}
		}
	}
	if bytes.Equal(js, []byte("null")) {
		return nil, nil
	}
	var v any
	if err := utiljson.Unmarshal(js, &v); err != nil {
		return nil, &DecodeError{Source: source, Line: line, Err: err}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &DecodeError{Source: source, Line: line, Err: fmt.Errorf("document is a %s, not an object", kindOfJSON(v))}
	}
	return expand(m, source, line, "", "", 0)
}

// yamlLine extracts the document-relative line from a YAML parser error, or 1.
func yamlLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
			return n
		}
	}
	return 1
}

func expand(m map[string]any, source string, line int, listAPIVersion, listKind string, depth int) ([]*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{Object: m}
	if listKind != "" && listKind != "List" {
		if _, ok := m["apiVersion"]; !ok {
			u.SetAPIVersion(listAPIVersion)
		}
		if _, ok := m["kind"]; !ok {
			u.SetKind(strings.TrimSuffix(listKind, "List"))
		}
	}
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	switch {
	case kind == "":
		return nil, &DecodeError{Source: source, Line: line, Err: errors.New("object has no kind")}
	case apiVersion == "":
		return nil, &DecodeError{Source: source, Line: line, Err: fmt.Errorf("%s object has no apiVersion", kind)}
	}
	items, isList := m["items"].([]any)
	if !isList || !strings.HasSuffix(kind, "List") {
		return []*unstructured.Unstructured{u}, nil
	}
	if depth >= maxListDepth {
		return nil, &DecodeError{Source: source, Line: line, Err: fmt.Errorf("lists nested deeper than %d", maxListDepth)}
	}
	var out []*unstructured.Unstructured
	for i, it := range items {
		im, ok := it.(map[string]any)
		if !ok {
			return nil, &DecodeError{Source: source, Line: line, Err: fmt.Errorf("%s item %d is a %s, not an object", kind, i, kindOfJSON(it))}
		}
		objs, err := expand(im, source, line, apiVersion, kind, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func kindOfJSON(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	default:
		return "number"
	}
}

// CheckYAML reports the first YAML syntax error in a multi-document stream
// as a [*DecodeError] with source and line, without requiring the documents
// to be Kubernetes objects (kustomize patches and kustomizations are not).
func CheckYAML(data []byte, source string) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for doc := range splitDocuments(data) {
		if len(bytes.TrimSpace(doc.data)) == 0 {
			continue
		}
		if _, err := utilyaml.ToJSON(doc.data); err != nil {
			return &DecodeError{Source: source, Line: doc.line + yamlLine(err) - 1, Err: err}
		}
	}
	return nil
}
