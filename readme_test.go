package kcl_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsLocalDevExample keeps the README's "Local development" program equal to
// examples/localdev/main.go, which the build compiles and vets.
func TestREADMEShowsLocalDevExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("examples/localdev/main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Local development\n")
	if !ok {
		t.Fatal(`README.md has no "## Local development" section`)
	}
	_, code, ok := strings.Cut(section, "\n```go\n")
	if !ok {
		t.Fatal("the Local development section shows no Go code")
	}
	code, _, _ = strings.Cut(code, "```\n")
	if code != string(example) {
		t.Fatal("README.md's Local development program differs from examples/localdev/main.go: copy the file into the README")
	}
}
