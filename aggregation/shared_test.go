package aggregation

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// kplVector is one sample of ../shared/testdata/kpl/kpl_vectors.json: bytes written by
// the real KPL and the user records they hold.
type kplVector struct {
	Name              string `json:"name"`
	OuterPartitionKey string `json:"outer_partition_key"`
	SequenceNumber    string `json:"sequence_number"`
	DataBase64        string `json:"data_base64"`
	DataSHA256        string `json:"data_sha256"`
	DataLen           int    `json:"data_len"`
	Aggregated        bool   `json:"aggregated"`
	Expected          []struct {
		SubSequenceNumber uint64  `json:"sub_sequence_number"`
		PartitionKey      string  `json:"partition_key"`
		ExplicitHashKey   *string `json:"explicit_hash_key"`
		DataUTF8          string  `json:"data_utf8"`
	} `json:"expected_user_records"`
}

func (v *kplVector) data() ([]byte, error) {
	return base64.StdEncoding.DecodeString(v.DataBase64)
}

// sharedFile returns where a file of the shared test data lives: ../shared/<rel> from
// the repository root, found as the nearest directory above with a go.mod.
func sharedFile(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", filepath.FromSlash(rel)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// readVectors reads the KPL samples; missing reports that the file is absent.
func readVectors() (vs []kplVector, path string, missing bool, err error) {
	path, err = sharedFile("testdata/kpl/kpl_vectors.json")
	if err != nil {
		return nil, "", false, err
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, path, true, err
	}
	if err != nil {
		return nil, path, false, err
	}
	var doc struct {
		Vectors []kplVector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, path, false, err
	}
	if len(doc.Vectors) == 0 {
		return nil, path, false, errors.New("no vectors in " + path)
	}
	return doc.Vectors, path, false, nil
}

// loadVectors returns the KPL samples. A missing file fails the test in CI, where the
// shared data must be present, and skips it elsewhere.
func loadVectors(tb testing.TB) []kplVector {
	tb.Helper()
	vs, path, missing, err := readVectors()
	switch {
	case missing && os.Getenv("CI") != "true":
		tb.Skipf("KPL samples not found; expected them at %s", path)
	case err != nil:
		tb.Fatalf("KPL samples: %v", err)
	}
	return vs
}
