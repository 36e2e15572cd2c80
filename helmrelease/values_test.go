package helmrelease

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMergeValues(t *testing.T) {
	secret := map[string][]byte{"values.yaml": []byte("db:\n  user: app\n  password: s3cret\n"), "token": []byte("abc,def")}
	cm := map[string][]byte{"values.yaml": []byte("db:\n  user: cm\n  host: db.local\nreplicas: 2\n"), "other.yaml": []byte("replicas: 5\n")}
	flat := ConfigMapData(map[string]string{"replicas": "3", "enabled": "true", "quoted": `"1.10"`, "octal": "0644", "null": "null", "newline": "4\n"})
	tests := []struct {
		name   string
		inline map[string]any
		from   []ValuesFrom
		want   map[string]any
		err    error
	}{
		{"nothing", nil, nil, map[string]any{}, nil},
		{"later wins, inline last",
			map[string]any{"replicas": 3},
			[]ValuesFrom{{Kind: "ConfigMap", Name: "cm", Data: cm}, {Kind: "Secret", Name: "s", Data: secret}},
			map[string]any{"db": map[string]any{"user": "app", "password": "s3cret", "host": "db.local"}, "replicas": 3}, nil},
		{"values key", nil, []ValuesFrom{{Kind: "ConfigMap", Name: "cm", ValuesKey: "other.yaml", Data: cm}},
			map[string]any{"replicas": float64(5)}, nil},
		{"target path takes the raw string", nil,
			[]ValuesFrom{{Kind: "Secret", Name: "s", ValuesKey: "token", TargetPath: "auth.token", Data: secret}},
			map[string]any{"auth": map[string]any{"token": "abc,def"}}, nil},
		{"target path with list index and escaped dot", nil,
			[]ValuesFrom{{Kind: "Secret", Name: "s", ValuesKey: "token", TargetPath: `env[1].value`, Data: secret},
				{Kind: "Secret", Name: "s", ValuesKey: "token", TargetPath: `annotations.example\.com/token`, Data: secret}},
			map[string]any{"env": []any{nil, map[string]any{"value": "abc,def"}}, "annotations": map[string]any{"example.com/token": "abc,def"}}, nil},
		{"target path types flat values as Flux does", nil,
			[]ValuesFrom{
				{Kind: "ConfigMap", Name: "flat", ValuesKey: "replicas", TargetPath: "replicas", Data: flat},
				{Kind: "ConfigMap", Name: "flat", ValuesKey: "enabled", TargetPath: "metrics.enabled", Data: flat},
				{Kind: "ConfigMap", Name: "flat", ValuesKey: "quoted", TargetPath: "image.tag", Data: flat},
				{Kind: "ConfigMap", Name: "flat", ValuesKey: "octal", TargetPath: "mode", Data: flat},
				{Kind: "ConfigMap", Name: "flat", ValuesKey: "null", TargetPath: "resources", Data: flat},
				{Kind: "ConfigMap", Name: "flat", ValuesKey: "newline", TargetPath: "note", Data: flat},
			},
			map[string]any{"replicas": int64(3), "metrics": map[string]any{"enabled": true}, "image": map[string]any{"tag": "1.10"},
				"mode": "0644", "resources": nil, "note": "4\n"}, nil},
		{"target path replaces what an earlier document set, inline wins over both",
			map[string]any{"db": map[string]any{"host": "inline"}},
			[]ValuesFrom{{Kind: "ConfigMap", Name: "cm", Data: cm}, {Kind: "ConfigMap", Name: "flat", ValuesKey: "replicas", TargetPath: "replicas", Data: flat},
				{Kind: "ConfigMap", Name: "flat", ValuesKey: "quoted", TargetPath: "db.host", Data: flat}},
			map[string]any{"db": map[string]any{"user": "cm", "host": "inline"}, "replicas": int64(3)}, nil},
		{"optional missing object", nil, []ValuesFrom{{Kind: "ConfigMap", Name: "gone", Optional: true}}, map[string]any{}, nil},
		{"optional missing key", nil, []ValuesFrom{{Kind: "ConfigMap", Name: "cm", ValuesKey: "nope", Optional: true, Data: cm}}, map[string]any{}, nil},
		{"required missing object", nil, []ValuesFrom{{Kind: "ConfigMap", Name: "gone"}}, nil, ErrValues},
		{"required missing key", nil, []ValuesFrom{{Kind: "ConfigMap", Name: "cm", ValuesKey: "nope", Data: cm}}, nil, ErrValues},
		{"not a map", nil, []ValuesFrom{{Kind: "Secret", Name: "s", ValuesKey: "token", Data: map[string][]byte{"token": []byte("- a\n- b\n")}}}, nil, ErrValues},
		{"bad target path", nil, []ValuesFrom{{Kind: "Secret", Name: "s", ValuesKey: "token", TargetPath: "a..b", Data: secret}}, nil, ErrValues},
		{"bad index", nil, []ValuesFrom{{Kind: "Secret", Name: "s", ValuesKey: "token", TargetPath: "a[x]", Data: secret}}, nil, ErrValues},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := cloneBytes(secret)
			got, err := MergeValues(tt.inline, tt.from...)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				var ve *ValuesError
				if !errors.As(err, &ve) || ve.Name == "" {
					t.Errorf("error %v is not a ValuesError naming the object", err)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
			if !reflect.DeepEqual(before, secret) {
				t.Error("MergeValues modified its input")
			}
		})
	}
}

func TestMergeValuesDoesNotAliasInline(t *testing.T) {
	inline := map[string]any{"a": map[string]any{"b": 1}}
	got, err := MergeValues(inline)
	if err != nil {
		t.Fatal(err)
	}
	got["a"].(map[string]any)["b"] = 2
	if inline["a"].(map[string]any)["b"] != 1 {
		t.Fatal("result aliases the inline values")
	}
}

func TestValuesDigestIgnoresFormatting(t *testing.T) {
	a, _ := MergeValues(nil, ValuesFrom{Kind: "ConfigMap", Name: "a", Data: map[string][]byte{"values.yaml": []byte("x: 1\nw: {z: true}\n")}})
	b, _ := MergeValues(map[string]any{"w": map[string]any{"z": true}, "x": 1})
	da, _ := ValuesDigest(a)
	db, _ := ValuesDigest(b)
	if da != db {
		t.Fatalf("digests differ: %s %s", da, db)
	}
	dc, _ := ValuesDigest(map[string]any{"x": 2})
	if dc == da {
		t.Fatal("different values, same digest")
	}
}

func TestValidate(t *testing.T) {
	ok := Release{Name: "web", Namespace: "ns", Chart: ChartRef{Path: "/charts/web"}}
	tests := []struct {
		name   string
		mutate func(*Release)
		valid  bool
	}{
		{"ok", func(*Release) {}, true},
		{"no name", func(r *Release) { r.Name = "" }, false},
		{"bad name", func(r *Release) { r.Name = "Web_1" }, false},
		{"long name", func(r *Release) { r.Name = string(make([]byte, 54)) }, false},
		{"no namespace", func(r *Release) { r.Namespace = "" }, false},
		{"no chart", func(r *Release) { r.Chart = ChartRef{} }, false},
		{"two sources", func(r *Release) { r.Chart.RepoURL = "https://x" }, false},
		{"repo without name", func(r *Release) { r.Chart = ChartRef{RepoURL: "https://x"} }, false},
		{"bad scheme", func(r *Release) { r.Chart = ChartRef{RepoURL: "ftp://x", Name: "a"} }, false},
		{"oci", func(r *Release) { r.Chart = ChartRef{RepoURL: "oci://x/charts", Name: "a"} }, true},
		{"bad CRD policy", func(r *Release) { r.CRDs = "Sometimes" }, false},
		{"bad drift mode", func(r *Release) { r.Drift.Mode = "Maybe" }, false},
		{"negative retries", func(r *Release) { r.Upgrade.Retries = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := ok
			tt.mutate(&rel)
			err := rel.Validate()
			if (err == nil) != tt.valid {
				t.Fatalf("Validate() = %v, valid %v", err, tt.valid)
			}
			if err != nil && !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error %v is not ErrInvalidSpec", err)
			}
		})
	}
}

func TestSelectVersion(t *testing.T) {
	versions := []string{"1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "v1.5.0", "garbage"}
	tests := []struct{ want, got string }{
		{"", "1.10.0"},
		{"1.x", "1.10.0"},
		{"~1.2", "1.2.0"},
		{"1.5.0", "v1.5.0"},
		{">=2.0.0-0", "2.0.0-rc.1"},
		{"3.x", ""},
	}
	for _, tt := range tests {
		got, err := selectVersion(tt.want, versions)
		if err != nil || got != tt.got {
			t.Errorf("selectVersion(%q) = %q, %v; want %q", tt.want, got, err, tt.got)
		}
	}
	if _, err := selectVersion("not a range", versions); err == nil {
		t.Error("bad range accepted")
	}
}

func cloneBytes(m map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		out[k] = append([]byte(nil), v...)
	}
	return out
}

func TestCachedRejectsNonDigests(t *testing.T) {
	r := &Reconciler{opts: Options{CacheDir: t.TempDir()}}
	for _, d := range []string{"", "sha256:abc", "sha256:" + strings.Repeat("../", 21) + "x", strings.Repeat("zz", 32)} {
		if _, ok := r.cached(d); ok {
			t.Errorf("cached(%q) = true", d)
		}
	}
}

func TestCRDPolicyPerAction(t *testing.T) {
	tests := []struct {
		rel              Release
		install, upgrade CRDPolicy
	}{
		{Release{}, CRDCreate, CRDCreate},
		{Release{CRDs: CRDCreateReplace}, CRDCreateReplace, CRDCreateReplace},
		{Release{Upgrade: UpgradePolicy{CRDs: CRDSkip}}, CRDCreate, CRDSkip},
		{Release{CRDs: CRDSkip, Install: InstallPolicy{CRDs: CRDCreateReplace}}, CRDCreateReplace, CRDSkip},
	}
	for i, tt := range tests {
		if got := tt.rel.crdPolicy(true); got != tt.install {
			t.Errorf("%d: install policy %s, want %s", i, got, tt.install)
		}
		if got := tt.rel.crdPolicy(false); got != tt.upgrade {
			t.Errorf("%d: upgrade policy %s, want %s", i, got, tt.upgrade)
		}
	}
	rel := Release{Name: "a", Namespace: "b", Chart: ChartRef{Path: "."}, Upgrade: UpgradePolicy{CRDs: "Replace"}}
	if err := rel.Validate(); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), `"Replace"`) {
		t.Errorf("unknown upgrade CRD policy: %v", err)
	}
}
