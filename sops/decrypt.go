package sops

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MetadataKey is the top-level field of an encrypted document that holds
// its SOPS metadata.
const MetadataKey = "sops"

// IsEncrypted says whether doc is a SOPS-encrypted document: one with a
// "sops" map that names a MAC or a modification time, as every document
// the sops command writes does.
func IsEncrypted(doc map[string]any) bool {
	m, ok := doc[MetadataKey].(map[string]any)
	if !ok {
		return false
	}
	_, mac := m["mac"]
	_, modified := m["lastmodified"]
	return mac || modified
}

// Decrypt returns a copy of doc, a SOPS-encrypted document decoded from
// YAML or JSON (maps of string keys, slices, strings, numbers, booleans),
// with its encrypted values decrypted to their types (str, int, float,
// bool; bytes and time as strings) and the "sops" metadata removed. doc is
// not changed. A document that is not encrypted is an [ErrInvalid].
func (k *Keys) Decrypt(doc map[string]any) (map[string]any, error) {
	if !IsEncrypted(doc) {
		return nil, fmt.Errorf("%w: no %q metadata", ErrInvalid, MetadataKey)
	}
	d, err := k.decrypter(doc[MetadataKey].(map[string]any))
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(doc)-1)
	for _, name := range sortedKeys(doc) {
		if name == MetadataKey {
			continue
		}
		if out[name], err = d.value(doc[name], []string{name}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decrypter opens the data key of a document's metadata.
func (k *Keys) decrypter(metadata map[string]any) (*decrypter, error) {
	md, err := parseMetadata(metadata)
	if err != nil {
		return nil, err
	}
	key, err := k.dataKey(md.recipients)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &decrypter{block: block, rule: md.rule}, nil
}

// metadata is what decryption needs of a document's "sops" map.
type metadata struct {
	recipients recipients
	rule       rule
}

func parseMetadata(m map[string]any) (metadata, error) {
	var md metadata
	groups, _ := m["key_groups"].([]any)
	switch {
	case len(groups) > 1:
		return md, fmt.Errorf("%w: the data key is split between %d key groups (Shamir)", ErrUnsupported, len(groups))
	case len(groups) == 1:
		g, ok := groups[0].(map[string]any)
		if !ok {
			return md, fmt.Errorf("%w: sops.key_groups[0] is not a map", ErrInvalid)
		}
		if err := md.recipients.add(g, "sops.key_groups[0]."); err != nil {
			return md, err
		}
	default:
		if err := md.recipients.add(m, "sops."); err != nil {
			return md, err
		}
	}
	var rules []string
	for _, field := range []string{"unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex", "unencrypted_comment_regex", "encrypted_comment_regex"} {
		v, ok := m[field]
		if !ok || v == nil || v == "" {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return md, fmt.Errorf("%w: sops.%s is not a string", ErrInvalid, field)
		}
		rules = append(rules, field)
		md.rule = rule{kind: field, arg: s}
	}
	switch len(rules) {
	case 0:
		md.rule = rule{kind: "unencrypted_suffix", arg: "_unencrypted"} // sops's default
	case 1:
	default:
		return md, fmt.Errorf("%w: sops sets %s: at most one rule may be set", ErrInvalid, strings.Join(rules, " and "))
	}
	if strings.HasSuffix(md.rule.kind, "_regex") && !strings.Contains(md.rule.kind, "comment") {
		re, err := regexp.Compile(md.rule.arg)
		if err != nil {
			return md, fmt.Errorf("%w: sops.%s: %w", ErrInvalid, md.rule.kind, err)
		}
		md.rule.re = re
	}
	return md, nil
}

// add reads the recipients of one key group (or of the metadata itself).
func (r *recipients) add(g map[string]any, field string) error {
	for _, kind := range []string{"age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"} {
		list, _ := g[kind].([]any)
		for i, e := range list {
			entry, ok := e.(map[string]any)
			if !ok {
				return fmt.Errorf("%w: %s%s[%d] is not a map", ErrInvalid, field, kind, i)
			}
			switch kind {
			case "age", "pgp":
				enc, ok := entry["enc"].(string)
				if !ok || enc == "" {
					return fmt.Errorf("%w: %s%s[%d].enc is missing", ErrInvalid, field, kind, i)
				}
				if kind == "age" {
					r.age = append(r.age, enc)
				} else {
					r.pgp = append(r.pgp, enc)
				}
			default:
				r.kms++
			}
		}
	}
	if len(r.age)+len(r.pgp)+r.kms == 0 {
		return fmt.Errorf("%w: %s lists no recipient of the data key", ErrInvalid, strings.TrimSuffix(field, "."))
	}
	return nil
}

// rule is the document's one rule of which values are encrypted.
type rule struct {
	kind, arg string
	re        *regexp.Regexp
}

// encrypted says whether the value at path is encrypted, as sops decides
// it (any key of the path decides). known is false when the rule depends
// on comments, which a build does not keep: a value is then decrypted when
// it has the form of an encrypted one.
func (r rule) encrypted(path []string) (encrypted, known bool) {
	hasSuffix := func(p string) bool { return strings.HasSuffix(p, r.arg) }
	switch r.kind {
	case "unencrypted_suffix":
		return !slices.ContainsFunc(path, hasSuffix), true
	case "encrypted_suffix":
		return slices.ContainsFunc(path, hasSuffix), true
	case "unencrypted_regex":
		return !slices.ContainsFunc(path, r.re.MatchString), true
	case "encrypted_regex":
		return slices.ContainsFunc(path, r.re.MatchString), true
	}
	return false, false
}

type decrypter struct {
	block cipher.Block
	rule  rule
}

// value decrypts v, found at path (the keys of the maps above it: sops
// does not count list indices), recursively.
func (d *decrypter) value(v any, path []string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, name := range sortedKeys(v) {
			var err error
			if out[name], err = d.value(v[name], append(path[:len(path):len(path)], name)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = d.value(e, path); err != nil {
				return nil, err
			}
		}
		return out, nil
	case nil:
		return nil, nil
	}
	s, isString := v.(string)
	if enc, known := d.rule.encrypted(path); !known {
		if !isString || !encForm.MatchString(s) {
			return v, nil
		}
	} else if !enc {
		return v, nil
	}
	if !isString {
		return nil, fmt.Errorf("%w: the value at %s should be encrypted, and is a %T", ErrInvalid, strings.Join(path, "."), v)
	}
	return d.open(s, path)
}

var encForm = regexp.MustCompile(`^ENC\[AES256_GCM,data:([^,]*),iv:([^,]+),tag:([^,]+),type:([a-z]+)\]$`)

// open decrypts one value; its path is authenticated with it (a comment's
// is the path of the map it is in).
func (d *decrypter) open(s string, path []string) (any, error) {
	at := strings.Join(path, ".")
	if s == "" {
		return "", nil // sops leaves empty strings as they are
	}
	m := encForm.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("%w: the value at %s should be encrypted, and is not in sops's ENC[AES256_GCM,…] form", ErrInvalid, at)
	}
	var parts [3][]byte
	for i := range parts {
		b, err := base64.StdEncoding.DecodeString(m[i+1])
		if err != nil {
			return nil, fmt.Errorf("%w: the value at %s: %w", ErrInvalid, at, err)
		}
		parts[i] = b
	}
	data, iv, tag := parts[0], parts[1], parts[2]
	if len(iv) == 0 || len(tag) != 16 {
		return nil, fmt.Errorf("%w: the value at %s has a %d-byte IV and a %d-byte tag", ErrInvalid, at, len(iv), len(tag))
	}
	gcm, err := cipher.NewGCMWithNonceSize(d.block, len(iv))
	if err != nil {
		return nil, fmt.Errorf("%w: the value at %s: %w", ErrInvalid, at, err)
	}
	plain, err := gcm.Open(nil, iv, append(data, tag...), []byte(strings.Join(path, ":")+":"))
	if err != nil {
		return nil, fmt.Errorf("%w: the value at %s does not authenticate (altered, moved, or encrypted with another data key)", ErrInvalid, at)
	}
	text := string(plain)
	switch typ := m[4]; typ {
	case "str", "bytes", "time", "comment":
		return text, nil
	case "int":
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: the value at %s is no int", ErrInvalid, at)
		}
		return n, nil
	case "float":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: the value at %s is no float", ErrInvalid, at)
		}
		return f, nil
	case "bool":
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, fmt.Errorf("%w: the value at %s is no bool", ErrInvalid, at)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("%w: the value at %s has type %q", ErrInvalid, at, typ)
	}
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}
