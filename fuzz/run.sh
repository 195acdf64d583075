#!/usr/bin/env bash
# Coverage-guided fuzzing of one KvTier reader with AFL++ and SharpFuzz.
#   fuzz/run.sh TARGET [SECONDS]     e.g. fuzz/run.sh safetensors 600
# Installs what is missing (afl++ from apt, the SharpFuzz instrumentation tool from NuGet), publishes
# fuzz/KvTier.Fuzz, instruments the KvTier assemblies, replays the seeds, and runs afl-fuzz for SECONDS (default 60).
# Findings go to fuzz/findings/TARGET (gitignored); the script exits 1 if a seed crashes or AFL saved any crash.
# With KVTIER_MODELS set to the models root, the tokenizer target also starts from stories260K's tok512.bin.
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

# Seeds are written before instrumenting: instrumented code outside afl-fuzz has no trace buffer to write to.
if [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
    echo "== writing the seed corpus to $corpus"
    dotnet "$out/kvtier-fuzz.dll" seeds "$target" "$corpus"
fi

echo "== instrumenting"
# src/KvTier builds KvTier.Core.dll. A missing assembly is an error, not a skip: without instrumentation AFL runs blind.
for assembly in KvTier.Core.dll KvTier.Reference.dll KvTier.Format.dll KvTier.Storage.dll KvTier.Remote.dll KvTier.LlamaSharp.dll; do
    if [ ! -f "$out/$assembly" ]; then echo "run.sh: $out/$assembly not found; update the list of assemblies to instrument" >&2; exit 2; fi
    sharpfuzz "$out/$assembly"
done

# A seed that crashes is a finding in itself, and afl-fuzz refuses to start with one: replay every seed first, report
# the ones that crash and leave them out of AFL's inputs.
seeds=()
crashing_seeds=()
for seed in "$corpus"/*; do
    if dotnet "$out/kvtier-fuzz.dll" "$target" "$seed" </dev/null >/dev/null 2>"$out/seed-replay.txt"; then
        seeds+=("$seed")
    else
        crashing_seeds+=("$seed")
        echo "== seed $seed crashes (a finding; left out of AFL's inputs):"
        grep -m 2 -E 'exception|Exception' "$out/seed-replay.txt" | sed 's/^/     /' || true
    fi
done
if [ "${#seeds[@]}" -eq 0 ]; then echo "run.sh: every seed in $corpus crashes; nothing to start AFL from" >&2; exit 1; fi

# AFL's input folder: the committed seeds, plus the real model's files when KVTIER_MODELS names the models root
# (the folder holding stories260K/). The 1 MiB checkpoint itself is not added: AFL reads at most 1 MiB of a test case.
inputs="$corpus"
if [ "${#crashing_seeds[@]}" -gt 0 ]; then
    inputs="$out/inputs"
    mkdir -p "$inputs"
    cp "${seeds[@]}" "$inputs"/
fi
models="${KVTIER_MODELS:-}"
if [ "$target" = tokenizer ] && [ -n "$models" ] && [ -f "$models/stories260K/tok512.bin" ]; then
    if [ "$inputs" = "$corpus" ]; then
        inputs="$out/inputs"
        mkdir -p "$inputs"
        cp "$corpus"/* "$inputs"/
    fi
    # The tokenizer target reads the vocabulary size first, uint16 little-endian: 512 = 00 02.
    { printf '\x00\x02'; cat "$models/stories260K/tok512.bin"; } > "$inputs/stories260K-tok512.bin"
    echo "== added $models/stories260K/tok512.bin to the inputs"
fi

dictionary_names=("$target")
if [ "$target" = kv-cache ]; then dictionary_names+=(safetensors); fi  # a KV-cache file is a safetensors file
dictionaries=()
for name in "${dictionary_names[@]}"; do
    if [ -f "$fuzz_dir/$name.dict" ]; then dictionaries+=(-x "$fuzz_dir/$name.dict"); fi
done

# dotnet itself is not instrumented (SharpFuzz instruments the IL), so AFL must not check the binary;
# the container's core_pattern and CPU governor are not ours to change.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_FORKSRV_INIT_TMOUT=60000
mkdir -p "$findings"
echo "== afl-fuzz $target for ${seconds}s"
afl-fuzz -V "$seconds" -i "$inputs" -o "$findings" -t 5000 -m none "${dictionaries[@]}" \
    -- dotnet "$out/kvtier-fuzz.dll" "$target"

stats="$findings/default/fuzzer_stats"
if [ -f "$stats" ]; then
    grep -E '^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg) ' "$stats" || true
fi
crashes=$(find "$findings/default/crashes" -type f ! -name README.txt 2>/dev/null | wc -l)
if [ "$crashes" -gt 0 ] || [ "${#crashing_seeds[@]}" -gt 0 ]; then
    if [ "${#crashing_seeds[@]}" -gt 0 ]; then printf 'Crashing seed: %s\n' "${crashing_seeds[@]}"; fi
    if [ "$crashes" -gt 0 ]; then echo "AFL saved $crashes crashing input(s) in $findings/default/crashes."; fi
    echo "Replay one with:"
    echo "  dotnet $out/kvtier-fuzz.dll $target FILE"
    exit 1
fi
echo "No crashes."
