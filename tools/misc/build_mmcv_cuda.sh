#!/usr/bin/env bash
# Build an mmcv 2.1.0 wheel with its CUDA ops against the torch of this
# environment (mmcv publishes none for torch 2.13), then check it.
#
# Usage: tools/misc/build_mmcv_cuda.sh [OUT_DIR]      (default: wheels-cuda/)
#   TORCH_CUDA_ARCH_LIST  GPU architectures to compile for (default below:
#                         T4/RTX 20, A100/A30, RTX 30/A10/A40, RTX 40/L4/L40,
#                         H100/H200, plus PTX that newer GPUs compile at
#                         load time); one arch, e.g. "9.0", for a quick build
#   MAX_JOBS              parallel compiler jobs (default: the CPU count)
#   PYTHON                the environment's python (default: .venv/bin/python
#                         when it exists, else python)
#   CUDA_HOME             the CUDA toolkit (default: from nvcc on the PATH)
#
# Time on 2 cores (MAX_JOBS=2): about 25 minutes for one architecture; the
# 59 CUDA sources are compiled once per architecture, the 77 C++ ones once.
# Install the result with `pip install OUT_DIR/mmcv-2.1.0-*.whl` (or
# `make test PIP_EXTRA="--find-links OUT_DIR"` / `make env ...`).
set -euo pipefail
OUT_DIR=$(mkdir -p "${1:-wheels-cuda}" && cd "${1:-wheels-cuda}" && pwd)
cd "$(dirname "$0")/../.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-"7.5;8.0;8.6;8.9;9.0+PTX"}
export MAX_JOBS=${MAX_JOBS:-$(nproc)}
fail() { echo "build_mmcv_cuda: $*" >&2; exit 1; }

# The toolkit: nvcc must match the CUDA version torch was built with.
if [ -z "${CUDA_HOME:-}" ]; then
    command -v nvcc >/dev/null || fail "no nvcc on the PATH and no CUDA_HOME: install the CUDA toolkit that matches torch (torch.version.cuda)"
    # nvcc names its own toolkit (also when the nvcc on the PATH is a
    # wrapper script or a link)
    CUDA_HOME=$(nvcc --dryrun -c -x cu /dev/null 2>&1 | sed -n 's/^#\$ TOP=\(.*\)\/bin\/\.\.$/\1/p' | head -1)
    [ -n "$CUDA_HOME" ] || fail "could not tell where nvcc's toolkit is: set CUDA_HOME"
fi
export CUDA_HOME
NVCC_VERSION=$("$CUDA_HOME/bin/nvcc" --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
TORCH_CUDA=$("$PYTHON" -c "import torch; print(torch.version.cuda or '')")
[ -n "$TORCH_CUDA" ] || fail "$PYTHON's torch is a CPU-only build: install the CUDA build of the pinned torch first"
[ "${NVCC_VERSION%%.*}" = "${TORCH_CUDA%%.*}" ] || fail "nvcc is CUDA $NVCC_VERSION but torch was built with CUDA $TORCH_CUDA: use the toolkit of the same major version (CUDA_HOME=...)"

# torch's headers include cuSPARSE, cuBLAS, ... headers; a toolkit without
# those libraries finds them in torch's own pip packages (nvidia/cu*/include).
if [ ! -f "$CUDA_HOME/include/cusparse.h" ]; then
    NV_INCLUDE=$("$PYTHON" - <<'PY' || true
import glob, os
try:
    import nvidia
except ImportError:  # no CUDA pip packages beside torch
    raise SystemExit
for root in nvidia.__path__:
    for header in sorted(glob.glob(os.path.join(root, '*', 'include', 'cusparse.h'))):
        print(os.path.dirname(header))
        raise SystemExit
PY
)
    [ -n "$NV_INCLUDE" ] || fail "cusparse.h is neither in $CUDA_HOME/include nor in torch's nvidia pip packages"
    export CPATH="$NV_INCLUDE${CPATH:+:$CPATH}"
    echo "CUDA library headers from torch's pip packages: $NV_INCLUDE"
fi

echo "building mmcv 2.1.0: CUDA $NVCC_VERSION at $CUDA_HOME, torch CUDA $TORCH_CUDA, archs $TORCH_CUDA_ARCH_LIST, $MAX_JOBS jobs"
start=$(date +%s)
# --no-build-isolation: mmcv's ops are compiled against this torch; pip's
# isolated build has none and would silently build mmcv without ops.
MMCV_WITH_OPS=1 FORCE_CUDA=1 "$PYTHON" -m pip wheel --no-build-isolation \
    --no-deps --no-binary mmcv --no-cache-dir -w "$OUT_DIR" "mmcv==2.1.0"
elapsed=$(( $(date +%s) - start ))
WHEEL=$(ls -t "$OUT_DIR"/mmcv-2.1.0-*.whl | head -1)
echo "built $WHEEL in $((elapsed / 60))m$((elapsed % 60))s"

# Check: the extension carries device code for the requested archs, and the
# wheel imports (also on a machine without a GPU) and runs an op on the CPU.
CHECK=$(mktemp -d)
trap 'rm -rf "$CHECK"' EXIT
"$PYTHON" -m zipfile -e "$WHEEL" "$CHECK"
EXT=$(ls "$CHECK"/mmcv/_ext*.so)
readelf -S -W "$EXT" > "$CHECK/sections.txt"
"$PYTHON" - "$EXT" "$CHECK/sections.txt" <<'PY'
# The device code in the extension's .nv_fatbin section: one entry per
# kernel file and architecture (kind 2: machine code, 1: PTX).
import struct, sys
so, sections = sys.argv[1:]
line = next(l for l in open(sections) if ' .nv_fatbin ' in l)
offset, size = (int(v, 16) for v in line.split(']')[1].split()[3:5])
with open(so, 'rb') as f:
    f.seek(offset)
    data = f.read(size)
entries, pos = {}, 0
while pos + 16 <= len(data):
    magic, _, header, body = struct.unpack_from('<IHHQ', data, pos)
    if magic != 0xBA55ED50:  # fat binaries are 8-byte aligned
        pos += 8
        continue
    entry, pos = pos + header, pos + header + body
    while entry < pos:
        kind, _, entry_header, entry_size = struct.unpack_from('<HHIQ', data, entry)
        arch = struct.unpack_from('<I', data, entry + 28)[0]
        what = {1: 'PTX', 2: 'machine code'}.get(kind, f'kind {kind}')
        entries[what, arch] = entries.get((what, arch), 0) + 1
        entry += entry_header + entry_size
if not entries:
    raise SystemExit('build_mmcv_cuda: no device code in ' + so)
for (what, arch), count in sorted(entries.items()):
    print(f'  sm_{arch} {what}: {count} kernel files')
PY
PYTHONPATH="$CHECK" "$PYTHON" - <<'PY'
import torch
import mmcv
import mmcv.ops
from mmcv.ops import get_compiling_cuda_version, get_compiler_version, nms
assert mmcv.__file__.startswith(__import__('os').environ['PYTHONPATH']), mmcv.__file__
cuda = get_compiling_cuda_version()
assert cuda != 'not available', 'mmcv was built without CUDA ops'
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
kept = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)[1]
assert kept.tolist() == [0, 2], kept
where = 'on the GPU' if torch.cuda.is_available() else 'on the CPU (no GPU here)'
if torch.cuda.is_available():
    kept = nms(boxes.cuda(), torch.tensor([0.9, 0.8, 0.7]).cuda(), 0.5)[1]
    assert kept.tolist() == [0, 2], kept
print(f'mmcv.ops imports: compiled with CUDA {cuda}, {get_compiler_version()}; nms runs {where}')
PY
