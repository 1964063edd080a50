#!/usr/bin/env bash
# Installs pyarrow (PyPI) when python3 cannot import it. It is a test dependency only: the
# Python-interop test (test/python-parquet-interop.test.ts) reads Thresher's Parquet outputs with
# it, as a researcher's notebook would. No stage of the pipeline runs in Python.
set -euo pipefail
if python3 -c 'import pyarrow' >/dev/null 2>&1; then exit 0; fi
echo "installing pyarrow with pip (test dependency)" >&2
python3 -m pip install --quiet --disable-pip-version-check pyarrow==26.0.1
python3 -c 'import pyarrow' || { echo "error: pyarrow still cannot be imported after pip install" >&2; exit 1; }
