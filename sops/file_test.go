package sops_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/sops"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecryptFile decrypts the files sops encrypted (testdata/generate.sh)
// as a Secret's data values named like them.
func TestDecryptFile(t *testing.T) {
	tests := []struct {
		name      string // the data key
		encrypted string
		plain     string
		asData    bool // compare decoded documents, not bytes
		json      bool
	}{
		{"app.env", "app.age.env", "plain/app.env", false, false},
		{"tls.key", "tls.age.key", "plain/tls.key", false, false},
		{"config.yaml", "config.age.yaml", "plain/config.yaml", true, false},
		{"config.json", "config.age.yaml", "plain/config.yaml", true, true},
		{"values.json", "values.age.json", "plain/values.json", true, true},
	}
	k := keys(t, "age.agekey")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := readFile(t, tt.encrypted)
			if !sops.IsEncryptedFile(enc) {
				t.Fatal("IsEncryptedFile = false")
			}
			if sops.IsEncryptedFile(readFile(t, tt.plain)) {
				t.Fatal("IsEncryptedFile(plaintext) = true")
			}
			got, err := k.DecryptFile(tt.name, enc)
			if err != nil {
				t.Fatal(err)
			}
			want := readFile(t, tt.plain)
			if !tt.asData {
				if string(got) != string(want) {
					t.Errorf("decrypted %q, want %q", got, want)
				}
				return
			}
			if isJSON := strings.HasPrefix(string(got), "{"); isJSON != tt.json {
				t.Errorf("written as JSON %v, want %v: %s", isJSON, tt.json, got)
			}
			var g, w any
			if err := yaml.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("decrypted %v, want %v", g, w)
			}
		})
	}
}

// TestDecryptDotenv: a secretGenerator's envs of an encrypted dotenv file
// make one Secret entry per line, metadata included.
func TestDecryptDotenv(t *testing.T) {
	entries := map[string]string{}
	for _, line := range strings.Split(string(readFile(t, "app.age.env")), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			entries[k] = v
		}
	}
	if !sops.IsEncryptedDotenv(entries) {
		t.Fatal("IsEncryptedDotenv = false")
	}
	got, err := keys(t, "age.agekey").DecryptDotenv(entries)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"DB_USER": "admin", "DB_PASSWORD": "s3cr3t-Pa55w0rd", "PUBLIC_unencrypted": "visible"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if sops.IsEncryptedDotenv(want) {
		t.Error("IsEncryptedDotenv(plaintext) = true")
	}

	entries["DB_USER"], entries["DB_PASSWORD"] = entries["DB_PASSWORD"], entries["DB_USER"]
	if _, err := keys(t, "age.agekey").DecryptDotenv(entries); !errors.Is(err, sops.ErrInvalid) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("values swapped: err = %v, want ErrInvalid without plaintext", err)
	}
}

func TestDecryptFileErrors(t *testing.T) {
	k := keys(t, "age.agekey")
	for _, tt := range []struct {
		name string
		data string
		want error
	}{
		{"INI", "[sops]\nmac = ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n", sops.ErrUnsupported},
		{"not a document", "mac: ENC[\n\t- :", sops.ErrInvalid},
		{"dotenv line without =", "sops_mac=ENC[x]\nnot a line\n", sops.ErrInvalid},
		{"dotenv bad list position", "sops_age__list_x__map_enc=a\nsops_mac=ENC[x]\n", sops.ErrInvalid},
		{"dotenv, a map and a list", "sops_age=a\nsops_age__list_0__map_enc=b\nsops_mac=ENC[x]\n", sops.ErrInvalid},
		{"dotenv, wrong key", strings.Replace(string(readFile(t, "app.age.env")), "sops_age__list_0__map_enc=-----BEGIN", "sops_age__list_0__map_enc=x-----BEGIN", 1), sops.ErrNoKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := k.DecryptFile("f", []byte(tt.data)); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzDecryptFile: whatever the file, DecryptFile returns bytes or an
// error, and never panics.
func FuzzDecryptFile(f *testing.F) {
	for _, name := range []string{"app.age.env", "tls.age.key", "config.age.yaml", "values.age.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(name, b)
	}
	k := keys(f, "age.agekey")
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		out, err := k.DecryptFile(name, data)
		if err != nil && out != nil {
			t.Fatalf("bytes and an error: %v", err)
		}
	})
}
