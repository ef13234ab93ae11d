package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedFile returns the path of rel inside the shared/ folder that sits beside the
// repository (../shared from the module root). Under CI (CI=true) a missing file fails t;
// elsewhere t skips and says where it looked.
func SharedFile(t testing.TB, rel string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("shared test data: %v", err)
	}
	path := filepath.Join(root, "..", "shared", filepath.FromSlash(rel))
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared test data missing under CI: %v", err)
		}
		t.Skipf("shared test data not on this machine: expected %s", path)
	}
	return path
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
