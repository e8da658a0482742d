#!/usr/bin/env bash
# patchbay scan against osv-scanner on the generated corpus (docs/scan-comparison.md):
#   1. the corpus: N Debian OSV records from bench/osvgen (seeded), as a record
#      directory for patchbay and as the all.zip osv-scanner reads offline, with
#      the findings the Debian and OSV rules give (the generator's expectation);
#   2. RUNS times each: osv-scanner offline; patchbay scan on the raw records
#      with an empty cache; patchbay scan again, from the cache the first scan
#      left: wall time and peak RSS of each (/usr/bin/time), medians, ratios;
#   3. the (binary package, advisory) findings of both, their differences, and
#      each tool's differences from the generator's expectation, per corpus case.
# Usage: bench/scan-compare.sh [CORPUS_DIR]
#   CORPUS_DIR holding records/, osvdb/osv-scalibr/Debian/all.zip and expect.tsv
#   is reused; a new or empty one is filled (default: a temporary directory).
# Environment: N (50000), SEED (1), RUNS (5), PATCHBAY (a patchbay binary to use
#   instead of building ./cmd/patchbay), OSV_SCANNER (osv-scanner on PATH or in
#   $(go env GOPATH)/bin; install it with
#   GOTOOLCHAIN=go1.27.3 go install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.6.0).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
n=${N:-50000} seed=${SEED:-1} runs=${RUNS:-5}
status=$repo/internal/pkgdb/testdata/dpkg/bookworm-host.status
osrelease=$repo/bench/testdata/os-release-debian12

work=$(mktemp -d /tmp/patchbay-scan-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
corpus=${1:-$work/corpus}

osv=${OSV_SCANNER:-$(command -v osv-scanner || echo "$(go env GOPATH)/bin/osv-scanner")}
if [ ! -x "$osv" ]; then
  echo "osv-scanner not found; install it with:" >&2
  echo "  GOTOOLCHAIN=go1.27.3 go install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.6.0" >&2
  exit 1
fi
if [ ! -x /usr/bin/time ] || ! command -v jq >/dev/null; then
  apt-get update -qq && apt-get install -y -qq time jq >/dev/null
fi

# --- 1. corpus
if [ -f "$corpus/osvdb/osv-scalibr/Debian/all.zip" ]; then
  echo "== reusing the corpus in $corpus"
else
  go run ./bench/osvgen -seed "$seed" -n "$n" -out "$corpus/records" \
    -zip "$corpus/osvdb/osv-scalibr/Debian/all.zip" -expect "$corpus/expect.tsv"
fi
records=$(find "$corpus/records" -name '*.json' | wc -l)
echo "== $records records; $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
pb=${PATCHBAY:-$work/patchbay}
[ -n "${PATCHBAY:-}" ] || go build -o "$pb" ./cmd/patchbay

# osv-scanner takes the Debian release from the os-release of the machine it
# runs on (etc/os-release under the scan root "/"), not from the scanned
# status file's system. Where it can, the script gives it the Debian 12
# os-release in a private mount namespace, without a network namespace to
# prove the scan is offline.
osv_cmd=("$osv" scan source --offline --offline-vulnerabilities --local-db-path "$corpus/osvdb"
  -L "dpkg-status:$status" --format json)
if [ "$(id -u)" = 0 ] && unshare -m -n true 2>/dev/null; then
  # shellcheck disable=SC2016 # $0 and $@ are the inner shell's
  isolate() { unshare -m -n sh -c 'mount --bind "$0" /etc/os-release && exec "$@"' "$osrelease" "$@"; }
  echo "== both tools run without network; osv-scanner with $osrelease as /etc/os-release"
else
  isolate() { "$@"; }
  if ! grep -qx 'VERSION_ID="12"' /etc/os-release || ! grep -qx 'ID=debian' /etc/os-release; then
    echo "warning: this machine is not Debian 12 and osv-scanner reads its os-release: its results are for another release" >&2
  fi
fi

# measure NAME OUT -- CMD…: one run; appends "seconds KB" to $work/NAME.times.
measure() {
  local name=$1 out=$2 rc=0
  shift 3
  isolate /usr/bin/time -o "$work/time" -f '%e %M' "$@" >"$out" 2>"$work/$name.err" || rc=$?
  # osv-scanner exits 1 when it found vulnerabilities.
  if [ "$rc" != 0 ] && ! { [ "$name" = osv ] && [ "$rc" = 1 ]; }; then
    echo "$name failed (exit $rc):" >&2
    tail -5 "$work/$name.err" >&2
    exit 1
  fi
  tail -1 "$work/time" >>"$work/$name.times"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
col() { cut -d' ' -f"$1" "$work/$2.times" | median; }

pb_scan=("$pb" scan --feed "$corpus/records" --dpkg-status "$status" --os-release "$osrelease" --output tsv)

# --- 2. timings, interleaved so that the machine's load falls alike on all three
echo "== $runs runs each"
for _ in $(seq 1 "$runs"); do
  measure osv "$work/osv.json" -- "${osv_cmd[@]}"
  rm -rf "$work/cache"
  measure cold "$work/cold.tsv" -- "${pb_scan[@]}" --cache-dir "$work/cache"
  measure warm "$work/warm.tsv" -- "${pb_scan[@]}" --cache-dir "$work/cache"
  cmp -s "$work/cold.tsv" "$work/warm.tsv" || {
    echo "the scan from the cache differs from the first scan:" >&2
    diff "$work/cold.tsv" "$work/warm.tsv" | head >&2
    exit 1
  }
done

osv_s=$(col 1 osv) osv_kb=$(col 2 osv)
printf '%-32s %8s %13s %9s %9s %8s\n' "median of $runs" "wall s" "(min-max)" "peak MiB" "speed-up" "memory"
row() { # label name
  local s kb
  s=$(col 1 "$2") kb=$(col 2 "$2")
  sort -n "$work/$2.times" | awk -v l="$1" -v s="$s" -v k="$kb" -v os="$osv_s" -v ok="$osv_kb" \
    'NR == 1 {lo = $1} {hi = $1} END {printf "%-32s %8.2f %13s %9.1f %8.1fx %7.2fx\n", l, s, sprintf("(%.2f-%.2f)", lo, hi), k/1024, os/s, k/ok}'
}
row "osv-scanner (prebuilt all.zip)" osv
row "patchbay scan, raw records" cold
row "patchbay scan, from the cache" warm
echo "(speed-up: osv-scanner's median time / this one; memory: this peak RSS / osv-scanner's)"

# --- 3. findings
jq -r '.results[]?.packages[]? | .package as $p | .vulnerabilities[]? | [$p.os_package_name // $p.name, .id] | @tsv' \
  "$work/osv.json" | LC_ALL=C sort -u >"$work/osv.pairs"
cut -f1,3 "$work/cold.tsv" | LC_ALL=C sort -u >"$work/patchbay.pairs"
echo "== findings (binary package, advisory): osv-scanner $(wc -l <"$work/osv.pairs"), patchbay $(wc -l <"$work/patchbay.pairs"), both $(LC_ALL=C comm -12 "$work/osv.pairs" "$work/patchbay.pairs" | wc -l)"

# What each installed binary's version is to its source's version: the same,
# a binNMU (5.2.15-2+b8 of 5.2.15-2), or its own (1:2.38.1-5+deb12u3 of
# 2.38.1-5+deb12u3, 4:12.2.0-3 of 1.203): OSV's Debian records give source
# versions.
awk -v RS= -F'\n' '{
  p = v = sv = ""
  for (i = 1; i <= NF; i++) {
    if ($i ~ /^Package: /) p = substr($i, 10)
    else if ($i ~ /^Version: /) v = substr($i, 10)
    else if ($i ~ /^Source: .*\(/) { sv = $i; sub(/.*\(/, "", sv); sub(/\).*/, "", sv) }
  }
  if (sv == "") sv = v
  print p "\t" (v == sv ? "binary=source" : index(v, sv "+b") == 1 ? "binNMU" : "own version")
}' "$status" | LC_ALL=C sort -u >"$work/class.map"

# cases FILE: the (binary, advisory) pairs in FILE counted per corpus case
# (the record's database_specific.case) and the binary's version class.
cases() {
  [ -s "$1" ] || { echo "   (none)"; return; }
  cut -f2 "$1" | sort -u | sed "s|^|$corpus/records/|; s|\$|.json|" | xargs jq -r '[.id, .database_specific.case // "-"] | @tsv' \
    | LC_ALL=C sort >"$work/case.map"
  LC_ALL=C sort -t$'\t' -k2,2 "$1" | LC_ALL=C join -t$'\t' -1 2 -2 1 - "$work/case.map" \
    | LC_ALL=C sort -t$'\t' -k2,2 | LC_ALL=C join -t$'\t' -1 2 -2 1 -a 1 - "$work/class.map" \
    | awk -F'\t' '{k = sprintf("%-40s %-14s", $3, $4 == "" ? "?" : $4); n[k]++; if (!(k in ex)) ex[k] = $1 " " $2}
        END {for (k in n) printf "   %5d  %s e.g. %s\n", n[k], k, ex[k]}' | sort -k2
}
diffs() { # LABEL A B: the pairs in A and not in B, per case
  LC_ALL=C comm -23 "$2" "$3" >"$work/d"
  echo "-- $1: $(wc -l <"$work/d"), by case:"
  cases "$work/d"
}
diffs "osv-scanner, not patchbay" "$work/osv.pairs" "$work/patchbay.pairs"
diffs "patchbay, not osv-scanner" "$work/patchbay.pairs" "$work/osv.pairs"
if [ -s "$corpus/expect.tsv" ]; then
  cut -f1,3 "$corpus/expect.tsv" | LC_ALL=C sort -u >"$work/expect.pairs"
  echo "== against the generator's expectation ($(wc -l <"$work/expect.pairs") findings)"
  diffs "patchbay, not expected" "$work/patchbay.pairs" "$work/expect.pairs"
  diffs "expected, not patchbay" "$work/expect.pairs" "$work/patchbay.pairs"
  diffs "osv-scanner, not expected" "$work/osv.pairs" "$work/expect.pairs"
  diffs "expected, not osv-scanner" "$work/expect.pairs" "$work/osv.pairs"
fi
