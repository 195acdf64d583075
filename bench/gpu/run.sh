#!/usr/bin/env bash
# Runs the GPU check on a Linux machine with an NVIDIA GPU and its driver; no .NET SDK needed. Works from any working
# directory, and from either place it is found:
#   bench/gpu/run.sh                              next to kvtier-gpucheck-linux-x64.tar.gz (extracted on first use)
#   kvtier-gpucheck-linux-x64/run.sh              inside the extracted folder
# Writes ${OUT:-.}/gpu-check.json (and gpu-check.log) and exits with the tool's code:
#   0 ok, 1 a check failed, 2 usage, 3 no GPU device, 4 the check broke, 124 timed out (partial JSON).
# Extra arguments, and those in $KVTIER_GPUCHECK_ARGS, go to the tool (e.g. --accelerator cpu, --seconds 0.5);
# KVTIER_GPUCHECK_TIMEOUT overrides the 280 s limit.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
name=kvtier-gpucheck-linux-x64
if [ -x "$here/kvtier-gpucheck" ]; then
    app="$here"
else
    app="$here/$name"
    tarball="$here/$name.tar.gz"
    if [ -f "$tarball" ] && { [ ! -f "$app/.extracted" ] || [ "$tarball" -nt "$app/.extracted" ]; }; then
        echo "extracting $tarball"
        rm -rf "$app"
        tar -C "$here" -xzf "$tarball" || { echo "error: cannot extract $tarball" >&2; exit 4; }
        touch "$app/.extracted"
    fi
    if [ ! -x "$app/kvtier-gpucheck" ]; then
        echo "error: no $app/kvtier-gpucheck and no $tarball; build it with bench/gpu/publish.sh" >&2
        exit 4
    fi
fi

out="${OUT:-.}"
mkdir -p "$out" && out="$(cd "$out" && pwd)"
json="$out/gpu-check.json"
log="$out/gpu-check.log"

# The app carries its own runtime; keep a stray DOTNET_ROOT from pointing it elsewhere.
unset DOTNET_ROOT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>/dev/null | tee "$log" || true

limit="${KVTIER_GPUCHECK_TIMEOUT:-280}" # seconds; the GPU machine allows 5 minutes in all
# shellcheck disable=SC2086 # KVTIER_GPUCHECK_ARGS is a list of words on purpose
timeout -k 10 "$limit" "$app/kvtier-gpucheck" --vectors "$app/vectors" --out "$json" "$@" ${KVTIER_GPUCHECK_ARGS:-} 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}

case $rc in
    0) verdict="ok: conformance passed, RoPE within 1 ulp" ;;
    1) verdict="FAILED: a conformance vector or the RoPE check failed (see $json)" ;;
    2) verdict="usage error" ;;
    3) verdict="no GPU: ILGPU found no CUDA or OpenCL device (\"device\": null)" ;;
    124|137) verdict="TIMED OUT after $limit s: $json holds the phases that finished (\"complete\": false)" ;;
    *) verdict="the check broke (exit $rc; see \"error\" in $json)" ;;
esac
echo "----"
echo "kvtier-gpucheck: $verdict"
echo "result: $json ($(wc -c < "$json" 2>/dev/null || echo 0) bytes), log: $log"
if [ -f "$json" ]; then
    grep -E '^  "(ok|complete|exitCode|totalSeconds|kernelCompileSeconds|noDeviceReason)"|^    "(name|backend|computeCapability|driverVersion|passed|failed|maxUlp)"' "$json" | sed 's/^ */  /'
fi
exit "$rc"
