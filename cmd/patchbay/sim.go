package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/sim"
)

type simOptions struct {
	hosts, workers, checkIns, packages int
	seed                               uint64
	interval, ramp, duration, report   time.Duration
	enrollSecret                       string
	changeRate                         float64
	stateFile                          string
	cpuProfile                         string
	// Jobs: run them with the simulated package manager.
	jobs                                 bool
	failRates, rebootRates, jobDurations []string
	jobWait                              time.Duration
}

func newSimCommand(e *env) *cobra.Command {
	var f clientFlags
	var o simOptions
	cmd := &cobra.Command{
		Use:   "sim --server URL --hosts N",
		Short: "Run a fleet of simulated agents against a server (load tests, demos)",
		Long: `Run N virtual agents in this process against a real server. Each host
draws its packages from one of five base images (Debian 12 and 11 from real
data; Ubuntu 22.04, Rocky 9 and Alpine 3.20 synthetic) with about 2% per-host
variation, enrolls at a staggered time within --ramp, and checks in every
--interval, now and then with a changed inventory.

With an admin token (--token or patchbay login) the sim makes one enroll
secret per label and group combination, so hosts carry labels such as prod,
canary and internet-facing; with --enroll-secret every host uses that one.
Keep the sim in a process of its own: a process here may hold at most
20,000 file descriptors.

With --jobs, each host asks for its due deployment jobs after every
check-in (without waiting) and runs them with a simulated package manager:
an install fails with the chance --fail-rate gives its image (debian-12,
debian-11, ubuntu-22.04, rocky-9, alpine-3.20), leaving part of its
packages upgraded; it takes about --job-duration (simulated, in the
result's times; --job-wait really waits up to that long) and needs a
reboot with the chance --reboot-rate gives. Each of the three takes
IMAGE=VALUE for one image or VALUE for the others, and repeats. Outcomes follow from --seed and
the job's id and attempt, so a run repeats. The versions installed reach
the server with the host's next inventory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.hosts < 1 {
				return usageErrorf("--hosts %d: want at least 1", o.hosts)
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			fl, err := fleet.NewFleet(o.seed, o.hosts, fleet.Options{Packages: o.packages, ChangeRate: o.changeRate,
				AgentVersion: "sim/" + buildVersion()})
			if err != nil {
				return err
			}
			pm, err := o.packageManager()
			if err != nil {
				return err
			}
			return runSim(cmd.Context(), e, c, fl, pm, o)
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.IntVar(&o.hosts, "hosts", 100, "number of simulated hosts")
	fl.Uint64Var(&o.seed, "seed", 1, "seed of the fleet: the same seed gives the same hosts")
	fl.DurationVar(&o.interval, "interval", time.Minute, "each host's check-in interval; 0 as fast as possible")
	fl.DurationVar(&o.ramp, "ramp", 30*time.Second, "spread enrollments over this long")
	fl.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until interrupted or --checkins)")
	fl.IntVar(&o.checkIns, "checkins", 0, "stop each host after this many check-ins (0: no limit)")
	fl.IntVar(&o.workers, "workers", 64, "requests in flight at most")
	fl.IntVar(&o.packages, "packages", 0, "grow every image to this many packages (0: as they are)")
	fl.DurationVar(&o.report, "report", 10*time.Second, "print progress this often (0: only at the end)")
	fl.StringVar(&o.enrollSecret, "enroll-secret", "", "enroll every host with this secret instead of making secrets")
	fl.Float64Var(&o.changeRate, "change-rate", 0, "chance a host's inventory changes before a check-in (0: 5%; negative: never)")
	fl.StringVar(&o.stateFile, "state", "", "keep the hosts' tokens in this file, so a later run resumes the same fleet")
	fl.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the simulator to this file")
	fl.BoolVar(&o.jobs, "jobs", false, "run deployment jobs with the simulated package manager")
	fl.StringArrayVar(&o.failRates, "fail-rate", nil, "with --jobs: chance an install fails, IMAGE=RATE (debian-12=0.2) or RATE for every other image; repeatable (default 0)")
	fl.StringArrayVar(&o.rebootRates, "reboot-rate", nil, "with --jobs: chance an install needs a reboot, IMAGE=RATE or RATE; repeatable (default 0.1)")
	fl.StringArrayVar(&o.jobDurations, "job-duration", nil, "with --jobs: mean simulated duration of an install, IMAGE=DURATION or DURATION; repeatable (default "+
		sim.DefaultJobDuration.String()+")")
	fl.DurationVar(&o.jobWait, "job-wait", 0, "with --jobs: really wait for a job's simulated duration, at most this long (0: report at once)")
	return cmd
}

// packageManager is the simulated package manager the flags ask for, nil
// without --jobs.
func (o simOptions) packageManager() (*sim.PackageManager, error) {
	if !o.jobs {
		if len(o.failRates) > 0 || len(o.rebootRates) > 0 || len(o.jobDurations) > 0 || o.jobWait > 0 {
			return nil, usageErrorf("--fail-rate, --reboot-rate, --job-duration and --job-wait need --jobs")
		}
		return nil, nil
	}
	if o.jobWait < 0 {
		return nil, usageErrorf("--job-wait %s: want a duration, 0 or more", o.jobWait)
	}
	rate := func(text string) (float64, bool) {
		r, err := strconv.ParseFloat(text, 64)
		return r, err == nil && r >= 0 && r <= 1
	}
	duration := func(text string) (time.Duration, bool) {
		d, err := time.ParseDuration(text)
		return d, err == nil && d > 0
	}
	pm := &sim.PackageManager{Seed: o.seed, Wait: o.jobWait, DefaultRebootRate: 0.1, DefaultDuration: sim.DefaultJobDuration}
	var err error
	if err = perImage("--fail-rate", "a rate from 0 to 1", o.failRates, rate, &pm.FailRate, &pm.DefaultFailRate); err == nil {
		err = perImage("--reboot-rate", "a rate from 0 to 1", o.rebootRates, rate, &pm.RebootRate, &pm.DefaultRebootRate)
	}
	if err == nil {
		err = perImage("--job-duration", "a positive duration such as 90s", o.jobDurations, duration, &pm.Duration, &pm.DefaultDuration)
	}
	return pm, err
}

// perImage reads the IMAGE=VALUE and VALUE values of flag, parsed by
// parse, into byImage and def (kept unless a bare VALUE is given).
func perImage[T any](flag, want string, values []string, parse func(string) (T, bool), byImage *map[string]T, def *T) error {
	images, err := fleet.Images()
	if err != nil {
		return err
	}
	names := make([]string, len(images))
	for i, im := range images {
		names[i] = im.Name
	}
	*byImage = map[string]T{}
	for _, v := range values {
		image, text, named := strings.Cut(v, "=")
		if !named {
			text = v
		}
		x, ok := parse(text)
		if !ok {
			return usageErrorf("%s %q: want IMAGE=VALUE or VALUE, the value %s", flag, v, want)
		}
		switch {
		case !named:
			*def = x
		case slices.Contains(names, image):
			(*byImage)[image] = x
		default:
			return usageErrorf("%s %q: no image %q (want one of %s)", flag, v, image, strings.Join(names, ", "))
		}
	}
	return nil
}

func runSim(ctx context.Context, e *env, c *client.Client, fl *fleet.Fleet, pm *sim.PackageManager, o simOptions) error {
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return usageErrorf("--cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// A load generator trades memory for CPU: collect garbage less often.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	log, _ := newLogger(e.stderr, "warn", "text")
	cfg := sim.Config{Client: c.WithToken(""), Fleet: fl, EnrollSecret: o.enrollSecret, Interval: o.interval,
		Ramp: o.ramp, Workers: o.workers, CheckIns: o.checkIns, Jobs: pm, Logger: log.With("component", "sim")}
	if o.enrollSecret == "" {
		cfg.SecretFor = secretsByTags(ctx, c, o.seed)
	}
	if o.stateFile != "" {
		tokens, err := loadSimTokens(o.stateFile, fl.Len())
		if err != nil {
			return err
		}
		cfg.Tokens = tokens
		defer func() {
			if err := saveSimTokens(o.stateFile, tokens); err != nil {
				fmt.Fprintln(e.stderr, "sim:", err)
			}
		}()
	}
	var stats sim.Stats
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if o.report > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(o.report)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					fmt.Fprintf(e.stdout, "%6.0fs  %s\n", time.Since(start).Seconds(), &stats)
				}
			}
		}()
	}
	err := sim.Run(ctx, cfg, &stats)
	close(stop)
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Fprintf(e.stdout, "sim: %d hosts, %.1fs: %s; %.0f check-ins/s, %.1f uploads/s\n", fl.Len(), el, &stats,
		float64(stats.CheckIns.Load())/el, float64(stats.Uploads.Load())/el)
	if last, ok := stats.LastError.Load().(string); ok {
		fmt.Fprintf(e.stderr, "sim: last error: %s\n", last)
	}
	return err
}

// secretsByTags makes (once each) an enroll secret per combination of
// labels and groups, so simulated hosts enroll with theirs.
func secretsByTags(ctx context.Context, c *client.Client, seed uint64) func(fleet.Host) (string, error) {
	var mu sync.Mutex
	secrets := map[string]string{}
	return func(h fleet.Host) (string, error) {
		labels := append([]string(nil), h.Labels...)
		sort.Strings(labels)
		key := strings.Join(labels, ",") + "|" + strings.Join(h.Groups, ",")
		mu.Lock()
		defer mu.Unlock()
		if s, ok := secrets[key]; ok {
			return s, nil
		}
		es, err := c.CreateEnrollSecret(ctx, apiv1.CreateEnrollSecretRequest{
			Name: fmt.Sprintf("sim seed %d: %s", seed, key), Labels: labels, Groups: h.Groups})
		if err != nil {
			return "", fmt.Errorf("make an enroll secret for %s: %w", key, err)
		}
		secrets[key] = es.Secret
		return es.Secret, nil
	}
}

// loadSimTokens reads a --state file: one host token per line, by index.
func loadSimTokens(path string, n int) ([]string, error) {
	tokens := make([]string, n)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return tokens, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sim state: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != n {
		return nil, usageErrorf("sim state %s holds %d hosts, not %d: use the same --hosts, or another file", path, len(lines), n)
	}
	copy(tokens, lines)
	return tokens, nil
}

func saveSimTokens(path string, tokens []string) error {
	return os.WriteFile(path, []byte(strings.Join(tokens, "\n")+"\n"), 0o600)
}
