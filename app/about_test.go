package app

import "testing"

func TestAboutNamesVersionAndLicenses(t *testing.T) {
	t.Parallel()
	u := newUser(t, "")
	info := u.About()
	if info.Version == "" || info.Commit == "" || info.GoVersion == "" {
		t.Fatalf("About() = %+v", info)
	}
	lic := map[string]string{}
	for _, c := range info.Components {
		lic[c.Name] = c.License
	}
	// Test binaries carry no module list (buildinfo's own tests cover
	// the modules); the standard library is always there.
	if lic["Go standard library"] != "BSD-3-Clause" {
		t.Errorf("components %+v lack the Go standard library", info.Components)
	}
}
