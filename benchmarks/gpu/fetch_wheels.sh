#!/usr/bin/env bash
# Fetch, for the lent GPU machine (Python 3.12, torch CUDA 13, no network), the wheels blaze_lab needs there and that
# its image lacks, into .whl/ (git-ignored). Slims two large ones to stay under the 64 MiB transfer limit:
#  - bitsandbytes: keep only the CUDA 13.x kernels (the GPU image's torch is built for CUDA 13.0) and the CPU one;
#  - plotly: drop the JupyterLab extension and widget bundle (write_html only needs plotly.min.js).
# Usage: bash benchmarks/gpu/fetch_wheels.sh   (run from the repo root, on a machine with pip access)
set -euo pipefail
out=.whl
rm -rf "$out" && mkdir -p "$out"
plat=(--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64
      --platform manylinux_2_24_x86_64 --platform manylinux_2_26_x86_64 --platform manylinux_2_27_x86_64
      --platform manylinux_2_28_x86_64 --platform manylinux_2_31_x86_64 --platform manylinux_2_34_x86_64)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${plat[@]}" -d "$out" \
  bitsandbytes==0.50.2 diffusers==0.42.1 plotly==7.1.0 platformdirs \
  papermill==2.7.0 nbclient==0.11.0 nbformat==5.11.1 ipykernel==7.4.0 \
  entrypoints tenacity jupyter-client jupyter-core traitlets fastjsonschema jsonschema referencing rpds-py \
  jsonschema-specifications comm ipython decorator parso matplotlib-inline pexpect ptyprocess prompt_toolkit wcwidth \
  stack_data executing asttokens pure_eval ipython_pygments_lexers nest-asyncio2 pyzmq tornado importlib_metadata
slim() {  # slim WHEEL PATTERN...: delete members matching the patterns
  local whl=$1; shift
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && unzip -q "$OLDPWD/$whl" && for p in "$@"; do rm -rf $p; done && zip -qr "$OLDPWD/$whl.new" .)
  mv "$whl.new" "$whl"; rm -rf "$tmp"
}
slim "$(ls $out/bitsandbytes-*.whl)" 'bitsandbytes/libbitsandbytes_cuda1[12]*.so'
slim "$(ls $out/plotly-*.whl)" 'plotly/labextension' 'plotly/package_data/widgetbundle.js'
du -ch "$out"/*.whl | tail -1
