// Command piiscan fails when a file holds a test patient's identifying
// data (hwtest/pii): make test runs it over the whole test log.
package main

import (
	"bufio"
	"fmt"
	"os"

	"dmpkiosk/hwtest/pii"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: piiscan FILE...")
		os.Exit(2)
	}
	hits := 0
	for _, path := range os.Args[1:] {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "piiscan:", err)
			os.Exit(2)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for line := 1; sc.Scan(); line++ {
			for _, m := range pii.Find(sc.Text()) {
				// The marker is named, not the line: the report must not
				// spread what it found.
				fmt.Printf("%s:%d: a test patient's %s\n", path, line, kind(m))
				hits++
			}
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintln(os.Stderr, "piiscan:", path, err)
			os.Exit(2)
		}
		f.Close()
	}
	if hits > 0 {
		fmt.Printf("piiscan: %d hits: patient data in the logs\n", hits)
		os.Exit(1)
	}
	fmt.Printf("piiscan: no patient data in %d files (%d markers)\n", len(os.Args)-1, len(pii.Markers()))
}

func kind(m string) string {
	for _, r := range m {
		if r < '0' || r > '9' {
			return "name (" + fmt.Sprint(len([]rune(m))) + " letters)"
		}
	}
	return fmt.Sprintf("number (%d digits)", len(m))
}
