package demo

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed repo
var repo embed.FS

// Files returns the repository's files, path to content, ready for a commit.
func Files() map[string]string {
	files := map[string]string{}
	// The embedded tree is fixed at compile time: walking it cannot fail.
	_ = fs.WalkDir(repo, "repo", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := repo.ReadFile(path)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(path, "repo/")] = string(data)
		return nil
	})
	return files
}

// Unit describes one unit of the scenario.
type Unit struct {
	Name      string
	Path      string
	DependsOn []string
}

// Units returns the scenario's units in dependency order.
func Units() []Unit {
	return []Unit{
		{Name: "infra", Path: "infra"},
		{Name: "apps-dev", Path: "apps/dev", DependsOn: []string{"infra"}},
		{Name: "apps-prd", Path: "apps/prd", DependsOn: []string{"apps-dev"}},
	}
}
