package main

import (
	"bufio"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkColdStart measures a real `patchbay server` process from exec to
// its first /readyz 200 on SQLite: "fresh" creates the store (migrations and
// the admin bootstrap), "existing" reopens one. The figure is p50-ms.
func BenchmarkColdStart(b *testing.B) {
	bin, err := buildBinary()
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"fresh", "existing"} {
		b.Run(mode, func(b *testing.B) {
			existing := b.TempDir()
			if mode == "existing" {
				coldStart(b, bin, existing) // create it once
			}
			var times []time.Duration
			b.ResetTimer()
			for range b.N {
				dir := existing
				if mode == "fresh" {
					dir = filepath.Join(b.TempDir(), "data")
				}
				times = append(times, coldStart(b, bin, dir))
			}
			b.StopTimer()
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
		})
	}
}

// coldStart starts the server, waits for /readyz to answer 200, stops it,
// and returns the time from exec to that answer.
func coldStart(b *testing.B, bin, dataDir string) time.Duration {
	cmd := exec.Command(bin, "server", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn")
	cmd.Env = []string{"HOME=" + dataDir}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	var url string
	for sc.Scan() {
		if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	if url == "" {
		b.Fatal("server did not print its address")
	}
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start)
			}
		}
		if time.Since(start) > 10*time.Second {
			b.Fatalf("no /readyz 200 within 10 s (last error %v)", err)
		}
		time.Sleep(time.Millisecond)
	}
}
