package main

import (
	"runtime"
	"runtime/debug"
)

// version is the release, stamped with -ldflags "-X main.version=v1.2.3";
// otherwise the module version when built by go install, or "devel".
var version string

// versionString is what -version prints:
// "sixgate VERSION (REVISION[, modified]) goVERSION".
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	return formatVersion(bi, ok, version, runtime.Version())
}

func formatVersion(bi *debug.BuildInfo, ok bool, stamped, goVersion string) string {
	v, rev := buildVersion(bi, ok, stamped)
	return "sixgate " + v + " (" + rev + ") " + goVersion
}

// buildVersion returns the version and the revision (with ", modified"
// for a build from a changed tree).
func buildVersion(bi *debug.BuildInfo, ok bool, stamped string) (string, string) {
	v, rev, modified := stamped, "unknown", false
	if ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 12 {
					rev = rev[:12]
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if modified {
		rev += ", modified"
	}
	return v, rev
}
