package hwtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// SaxonJar is Debian libsaxonhe-java's Saxon HE (XSLT 2).
const SaxonJar = "/usr/share/java/Saxon-HE.jar"

// Failure is one failed assertion of a schematron report (SVRL): where
// (its location) and what it says.
type Failure struct{ Role, Location, Text string }

var (
	svrlFailed = regexp.MustCompile(`(?s)<svrl:failed-assert([^>]*)>(.*?)</svrl:failed-assert>`)
	svrlAttr   = regexp.MustCompile(`(\w+)="([^"]*)"`)
	svrlTag    = regexp.MustCompile(`<[^>]+>`)
	svrlSpace  = regexp.MustCompile(`\s+`)
)

// Schematron runs an ISO schematron (sch, its includes beside it) over
// every document of docs with Saxon, in one JVM for the whole corpus: the
// rules compiled once (CompileSchematron), then applied to the folder
// (RunSchematron). It returns each document's failed assertions by its
// name. A missing Java or Saxon fails the test (Missing).
func Schematron(t testing.TB, sch, engine string, docs map[string][]byte) map[string][]Failure {
	t.Helper()
	return RunSchematron(t, CompileSchematron(t, sch, engine), docs)
}

// saxon runs Saxon's XSLT processor with args.
func saxon(t testing.TB, args ...string) {
	t.Helper()
	java := LookPath(t, "java", "default-jre-headless")
	if _, err := os.Stat(SaxonJar); err != nil {
		Missing(t, SaxonJar, "libsaxonhe-java")
	}
	out, err := exec.Command(java, append([]string{"-cp", SaxonJar, "net.sf.saxon.Transform"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("saxon %v: %v\n%s", args, err, out)
	}
}

// CompileSchematron turns an ISO schematron into its XSLT 2 stylesheet
// (include, expand, SVRL, with the ISO skeleton in engine), written beside
// a copy of its includes; it returns the stylesheet's path.
func CompileSchematron(t testing.TB, sch, engine string) string {
	t.Helper()
	rules := filepath.Join(t.TempDir(), "rules")
	if err := exec.Command("cp", "-r", filepath.Dir(sch), rules).Run(); err != nil {
		t.Fatalf("copying the rules: %v", err)
	}
	main := filepath.Join(rules, filepath.Base(sch))
	step1, step2, xsl := filepath.Join(rules, "1.sch"), filepath.Join(rules, "2.sch"), filepath.Join(rules, "rules.xsl")
	saxon(t, "-s:"+main, "-xsl:"+filepath.Join(engine, "iso_dsdl_include.xsl"), "-o:"+step1)
	saxon(t, "-s:"+step1, "-xsl:"+filepath.Join(engine, "iso_abstract_expand.xsl"), "-o:"+step2)
	saxon(t, "-s:"+step2, "-xsl:"+filepath.Join(engine, "iso_svrl_for_xslt2.xsl"), "-o:"+xsl)
	return xsl
}

// RunSchematron applies a compiled schematron to every document of docs
// in one JVM and returns each one's failed assertions by its name.
func RunSchematron(t testing.TB, xsl string, docs map[string][]byte) map[string][]Failure {
	t.Helper()
	work := t.TempDir()
	in, out := filepath.Join(work, "in"), filepath.Join(work, "out")
	os.MkdirAll(in, 0o755)
	os.MkdirAll(out, 0o755)
	for name, b := range docs {
		if err := os.WriteFile(filepath.Join(in, name+".xml"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	saxon(t, "-s:"+in, "-xsl:"+xsl, "-o:"+out)
	res := map[string][]Failure{}
	for name := range docs {
		b, err := os.ReadFile(filepath.Join(out, name+".xml"))
		if err != nil {
			t.Fatalf("no report for %s: %v", name, err)
		}
		res[name] = []Failure{}
		for _, m := range svrlFailed.FindAllSubmatch(b, -1) {
			f := Failure{}
			for _, a := range svrlAttr.FindAllSubmatch(m[1], -1) {
				switch string(a[1]) {
				case "role":
					f.Role = string(a[2])
				case "location":
					f.Location = string(a[2])
				}
			}
			f.Text = strings.TrimSpace(svrlSpace.ReplaceAllString(svrlTag.ReplaceAllString(string(m[2]), ""), " "))
			res[name] = append(res[name], f)
		}
	}
	return res
}
