#!/usr/bin/env bash
# Builds kvtier-gpucheck as a self-contained linux-x64 app (no .NET SDK or runtime needed where it runs), puts the
# conformance vectors next to it and packs bench/gpu/kvtier-gpucheck-linux-x64.tar.gz. Never IL-trimmed: ILGPU
# generates kernels from IL at run time. Builds under bench/gpu/artifacts so that it shares no bin/ or obj/ folder
# with the ordinary `dotnet build`. Run from anywhere: bench/gpu/publish.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
name=kvtier-gpucheck-linux-x64
stage="$here/publish/$name"
tarball="$here/$name.tar.gz"
limit=$((64 * 1024 * 1024)) # what the GPU machine accepts in one transfer

rm -rf "$here/publish" "$tarball"
dotnet publish "$repo/bench/KvTier.GpuCheck/KvTier.GpuCheck.csproj" \
    -c Release -r linux-x64 --self-contained true \
    --artifacts-path "$here/artifacts" \
    -p:PublishTrimmed=false -p:PublishSingleFile=false -p:PublishReadyToRun=false \
    -p:InvariantGlobalization=true -p:SatelliteResourceLanguages=en \
    -p:DebugType=none -p:DebugSymbols=false -p:GenerateDocumentationFile=false \
    -o "$stage"

# Symbols and XML docs are of no use on the GPU machine; the tool needs nothing but the binaries and the vectors.
find "$stage" \( -name '*.pdb' -o -name '*.dbg' -o -name 'kvtier*.xml' -o -name 'KvTier*.xml' -o -name 'ILGPU*.xml' \) -delete
cp -r "$repo/format-spec/vectors" "$stage/vectors"
cp "$here/run.sh" "$stage/run.sh"

tar -C "$here/publish" -czf "$tarball" "$name"
size=$(stat -c %s "$tarball")
unpacked=$(du -sb "$stage" | cut -f1)
awk -v c="$size" -v u="$unpacked" -v n="$(find "$stage" -type f | wc -l)" -v t="$tarball" \
    'BEGIN { printf "packed %s: %.1f MiB compressed (%.1f MiB unpacked, %d files)\n", t, c / 1048576, u / 1048576, n }'
if [ "$size" -gt "$limit" ]; then
    echo "error: the tarball is over the GPU machine's 64 MiB limit" >&2
    exit 1
fi
