package sops_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/sops"
)

// readDoc reads a YAML or JSON document of testdata.
func readDoc(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// keys parses the named key files of testdata/keys as a decryption
// Secret's data.
func keys(t testing.TB, names ...string) *sops.Keys {
	t.Helper()
	data := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", "keys", n))
		if err != nil {
			t.Fatal(err)
		}
		data[n] = b
	}
	k, err := sops.ParseKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDecrypt decrypts documents the sops command encrypted (see
// testdata/generate.sh) back to the plaintext they were made from.
func TestDecrypt(t *testing.T) {
	tests := []struct {
		name, encrypted, plain string
		keys                   []string
	}{
		{"Secret, age, encrypted_regex", "secret.age.yaml", "plain/secret.yaml", []string{"age.agekey"}},
		{"Secret, OpenPGP", "secret.pgp.yaml", "plain/secret.yaml", []string{"pgp.asc"}},
		{"Secret, the second recipient's age key", "secret.pgp.yaml", "plain/secret.yaml", []string{"other.agekey"}},
		{"every type, default rule", "values.age.json", "plain/values.json", []string{"age.agekey"}},
		{"keys that do not match come first", "secret.age.yaml", "plain/secret.yaml", []string{"other.agekey", "pgp.asc", "age.agekey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := readDoc(t, tt.encrypted)
			before := jsonOf(t, doc)
			if !sops.IsEncrypted(doc) {
				t.Fatal("IsEncrypted = false")
			}
			got, err := keys(t, tt.keys...).Decrypt(doc)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := jsonOf(t, got), jsonOf(t, readDoc(t, tt.plain)); g != w {
				t.Errorf("decrypted:\n%s\nwant:\n%s", g, w)
			}
			if jsonOf(t, doc) != before {
				t.Error("Decrypt changed its input")
			}
			if sops.IsEncrypted(got) {
				t.Error("the sops metadata is still there")
			}
		})
	}
}

// TestDecryptTypes: values decrypt to the types unstructured objects hold.
func TestDecryptTypes(t *testing.T) {
	got, err := keys(t, "age.agekey").Decrypt(readDoc(t, "values.age.json"))
	if err != nil {
		t.Fatal(err)
	}
	spec := got["spec"].(map[string]any)
	for field, want := range map[string]any{"replicas": int64(3), "ratio": 0.75, "enabled": true, "endpoint": "https://db.apps.svc:5432"} {
		if spec[field] != want {
			t.Errorf("spec.%s = %#v, want %#v", field, spec[field], want)
		}
	}
}

func TestDecryptErrors(t *testing.T) {
	secret := func(edit func(doc map[string]any)) map[string]any {
		doc := readDoc(t, "secret.age.yaml")
		edit(doc)
		return doc
	}
	metadata := func(doc map[string]any) map[string]any { return doc["sops"].(map[string]any) }
	stringData := func(doc map[string]any) map[string]any { return doc["stringData"].(map[string]any) }
	tests := []struct {
		name string
		keys []string
		doc  map[string]any
		want error
		msg  string
	}{
		{"no key matches", []string{"other.agekey", "pgp.asc"}, readDoc(t, "secret.age.yaml"), sops.ErrNoKey, "1 age and 0 OpenPGP recipient(s), 2 key(s) given"},
		{"no keys at all", nil, readDoc(t, "secret.age.yaml"), sops.ErrNoKey, "0 key(s) given"},
		{"cloud key services only", []string{"age.agekey"}, secret(func(doc map[string]any) {
			m := metadata(doc)
			delete(m, "age")
			m["kms"] = []any{map[string]any{"arn": "arn:aws:kms:eu-west-1:000000000000:key/x", "enc": "AQID"}}
		}), sops.ErrNoKey, "cloud key services, which are not used"},
		{"a value altered", []string{"age.agekey"}, secret(func(doc map[string]any) {
			v := stringData(doc)["password"].(string)
			stringData(doc)["password"] = strings.Replace(v, "data:l", "data:m", 1)
		}), sops.ErrInvalid, "stringData.password does not authenticate"},
		{"a value moved to another key", []string{"age.agekey"}, secret(func(doc map[string]any) {
			sd := stringData(doc)
			sd["username"], sd["password"] = sd["password"], sd["username"]
		}), sops.ErrInvalid, "does not authenticate"},
		{"a value left in plaintext where it should be encrypted", []string{"age.agekey"}, secret(func(doc map[string]any) {
			stringData(doc)["password"] = "plaintext"
		}), sops.ErrInvalid, "not in sops's ENC"},
		{"not encrypted", []string{"age.agekey"}, readDoc(t, "plain/secret.yaml"), sops.ErrInvalid, `no "sops" metadata`},
		{"no recipients", []string{"age.agekey"}, secret(func(doc map[string]any) { delete(metadata(doc), "age") }), sops.ErrInvalid, "no recipient"},
		{"two rules", []string{"age.agekey"}, secret(func(doc map[string]any) { metadata(doc)["unencrypted_suffix"] = "_plain" }), sops.ErrInvalid, "at most one rule"},
		{"bad regex", []string{"age.agekey"}, secret(func(doc map[string]any) { metadata(doc)["encrypted_regex"] = "(" }), sops.ErrInvalid, "encrypted_regex"},
		{"a recipient that is no age file", []string{"age.agekey"}, secret(func(doc map[string]any) {
			metadata(doc)["age"] = []any{map[string]any{"recipient": "age1x", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\nbm90IGFnZQ==\n-----END AGE ENCRYPTED FILE-----\n"}}
		}), sops.ErrNoKey, "age"},
		{"Shamir key groups", []string{"age.agekey", "other.agekey"}, readDoc(t, "secret.shamir.yaml"), sops.ErrUnsupported, "2 key groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := keys(t, tt.keys...).Decrypt(tt.doc)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.msg)
			}
			for _, secret := range []string{"s3cr3t-Pa55w0rd", "admin", "token-value", "AGE-SECRET-KEY"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows %q: %v", secret, err)
				}
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "keys", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	publicOnly := func() []byte {
		// The public half of the test key, as `gpg --export --armor` prints it.
		b, err := os.ReadFile(filepath.Join("testdata", "keys", "pgp.pub.asc"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		data map[string][]byte
		n    int
		err  string
	}{
		{"age and OpenPGP, other entries ignored", map[string][]byte{"age.agekey": read("age.agekey"), "pgp.asc": read("pgp.asc"),
			"sops.aws-kms": []byte("aws_access_key_id: x"), "README": []byte("hello")}, 2, ""},
		{"several age identities in one entry", map[string][]byte{"both.agekey": append(read("age.agekey"), read("other.agekey")...)}, 2, ""},
		{"empty", nil, 0, ""},
		{"bad age key", map[string][]byte{"bad.agekey": []byte("AGE-SECRET-KEY-1NOTAKEY\n")}, 0, "entry bad.agekey"},
		{"bad OpenPGP key", map[string][]byte{"bad.asc": []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n")}, 0, "entry bad.asc"},
		{"OpenPGP public key", map[string][]byte{"pub.asc": publicOnly()}, 0, "a public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := sops.ParseKeys(tt.data)
			if tt.err != "" {
				if !errors.Is(err, sops.ErrInvalidKey) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want ErrInvalidKey with %q", err, tt.err)
				}
				for _, v := range tt.data {
					if len(v) > 20 && strings.Contains(err.Error(), string(v[:20])) {
						t.Errorf("the error shows the key: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Len() != tt.n {
				t.Errorf("Len = %d, want %d", k.Len(), tt.n)
			}
		})
	}
}

// FuzzDecrypt: whatever the document, Decrypt returns a document or an
// error; it never panics and never returns plaintext with an error.
func FuzzDecrypt(f *testing.F) {
	for _, name := range []string{"secret.age.yaml", "values.age.json", "secret.pgp.yaml", "secret.shamir.yaml"} {
		b, err := json.Marshal(readDoc(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	k := keys(f, "age.agekey", "pgp.asc")
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc map[string]any
		if json.Unmarshal(data, &doc) != nil {
			return
		}
		in := maps.Clone(doc)
		got, err := k.Decrypt(doc)
		if err != nil && got != nil {
			t.Fatalf("a document and an error: %v", err)
		}
		if err == nil && sops.IsEncrypted(got) {
			t.Fatal("decrypted document still has sops metadata")
		}
		if len(in) != len(doc) {
			t.Fatal("Decrypt changed its input")
		}
	})
}
