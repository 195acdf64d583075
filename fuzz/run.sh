#!/usr/bin/env bash
# Coverage-guided fuzzing of one KvTier reader with AFL++ and SharpFuzz.
#   fuzz/run.sh TARGET [SECONDS]     e.g. fuzz/run.sh safetensors 600
# Installs what is missing (afl++ from apt, the SharpFuzz instrumentation tool from NuGet), publishes
# fuzz/KvTier.Fuzz, instruments the KvTier assemblies, and runs afl-fuzz for SECONDS (default 60).
# Findings go to fuzz/findings/TARGET (gitignored); the script exits 1 if AFL saved any crash.
set -euo pipefail

target="${1:?usage: fuzz/run.sh TARGET [SECONDS]}"
seconds="${2:-60}"
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$fuzz_dir/out/$target"          # published, instrumented build (gitignored)
corpus="$fuzz_dir/corpus/$target"
findings="$fuzz_dir/findings/$target"
sharpfuzz_version="2.3.0"            # keep equal to SharpFuzz in Directory.Packages.props

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v afl-fuzz >/dev/null 2>&1; then
    echo "== installing afl++"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q afl++
fi

export PATH="$PATH:$HOME/.dotnet/tools"
if ! command -v sharpfuzz >/dev/null 2>&1; then
    echo "== installing the SharpFuzz instrumentation tool"
    dotnet tool install --global SharpFuzz.CommandLine --version "$sharpfuzz_version"
fi

echo "== publishing fuzz/KvTier.Fuzz"
rm -rf "$out"
dotnet publish "$fuzz_dir/KvTier.Fuzz/KvTier.Fuzz.csproj" -c Release -o "$out" -p:UseAppHost=false --nologo -v quiet

echo "== instrumenting"
for assembly in KvTier.dll KvTier.Reference.dll; do
    if [ -f "$out/$assembly" ]; then sharpfuzz "$out/$assembly"; fi
done

if [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
    echo "== writing the seed corpus to $corpus"
    dotnet "$out/kvtier-fuzz.dll" seeds "$target" "$corpus"
fi

dictionary=()
if [ -f "$fuzz_dir/$target.dict" ]; then dictionary=(-x "$fuzz_dir/$target.dict"); fi

# dotnet itself is not instrumented (SharpFuzz instruments the IL), so AFL must not check the binary;
# the container's core_pattern and CPU governor are not ours to change.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_FORKSRV_INIT_TMOUT=60000
mkdir -p "$findings"
echo "== afl-fuzz $target for ${seconds}s"
afl-fuzz -V "$seconds" -i "$corpus" -o "$findings" -t 5000 -m none "${dictionary[@]}" \
    -- dotnet "$out/kvtier-fuzz.dll" "$target"

stats="$findings/default/fuzzer_stats"
if [ -f "$stats" ]; then
    grep -E '^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg) ' "$stats" || true
fi
crashes=$(find "$findings/default/crashes" -type f ! -name README.txt 2>/dev/null | wc -l)
if [ "$crashes" -gt 0 ]; then
    echo "AFL saved $crashes crashing input(s) in $findings/default/crashes; replay one with:"
    echo "  dotnet $out/kvtier-fuzz.dll $target FILE"
    exit 1
fi
echo "No crashes."
