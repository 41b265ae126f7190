#!/usr/bin/env bash
# Installs and builds what the example producers need, all into examples/.build (gitignored):
# a Python venv with requirements.txt from PyPI, the Go binary (modules from the Go module proxy
# into the Go module cache), and the Java classes with their Maven Central classpath (artifacts
# in ~/.m2). Idempotent: a second run only checks, so test/integration/examples.test.ts runs it
# once per test run; .ci/run runs it first so a missing download fails the install step.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p .build

python=${PYTHON:-python3}
[ -x .build/python/bin/python ] || "$python" -m venv .build/python
.build/python/bin/python -m pip install -q --disable-pip-version-check -r python/requirements.txt
# The proof checker of docs/integrity.md ("Proofs") needs Ed25519: run by test/integration/merkle-proofs.test.ts.
.build/python/bin/python -m pip install -q --disable-pip-version-check cryptography==48.0.0

(cd go && go build -o ../.build/go/produce .)

(cd java && mvn -q -B -Dstyle.color=never compile dependency:build-classpath -Dmdep.outputFile=../.build/java/classpath.txt)
