#!/bin/sh
# Install the pinned torch without CUDA, for training (`bbzip train`, `make model`).
#
#   scripts/install-torch-cpu.sh [PIP...]      e.g. scripts/install-torch-cpu.sh .venv/bin/python -m pip
#
# torch from the public index on Linux is the CUDA build, several GB; PyTorch's CPU wheel
# index has the same version without it. Where that index cannot be reached (offline, or
# only a package mirror), pip's usual sources are used instead: a wheel on local disk, or a
# mirror; a quick failure, not minutes of retries.
set -eu
TORCH=${TORCH:-torch==2.13.0}
CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
if [ "$#" -eq 0 ]; then set -- python3 -m pip; fi

want=${TORCH#torch==}
have=$("$@" show torch 2>/dev/null | sed -n 's/^Version: //p' | sed 's/+.*//')
if [ "$have" = "$want" ]; then
    exit 0
fi
if "$@" install -q --timeout 10 --retries 0 --index-url "$CPU_INDEX" "$TORCH" 2>/dev/null; then
    exit 0
fi
echo "install-torch-cpu: $CPU_INDEX not reachable; installing $TORCH from pip's usual sources" >&2
"$@" install -q "$TORCH"
